import { unchangingMessage } from '../api/proto.js';

/**
 * The reply to a Get of a read-model view, built once per view object and sent as the same bytes
 * every later time (see unchangingMessage). Projections replace a view when it changes and never
 * write into one, so a reply is right for as long as its view is the one read; it is held weakly,
 * and goes with its view.
 */
export function viewReplies<V extends object, R extends object>(build: (view: V) => R): (view: V) => R {
  const replies = new WeakMap<V, R>();
  return (view) => {
    let reply = replies.get(view);
    if (!reply) replies.set(view, (reply = unchangingMessage(build(view))));
    return reply;
  };
}

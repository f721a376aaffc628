// The seam for the CRI's streaming calls. Exec, Attach and PortForward do not stream through
// the CRI itself: the runtime answers with a URL on a streaming server of its own, which kubelet
// (or crictl) then speaks the Kubernetes remotecommand / portforward protocols to (SPDY/3.1 or
// websocket, channel.k8s.io subprotocols). http-server.ts implements it; the CRI plugin hands it
// to the RuntimeService.

export interface ExecRequest {
  readonly containerId: string;
  readonly cmd: readonly string[];
  readonly tty: boolean;
  readonly stdin: boolean;
  readonly stdout: boolean;
  readonly stderr: boolean;
}

export interface AttachRequest {
  readonly containerId: string;
  readonly tty: boolean;
  readonly stdin: boolean;
  readonly stdout: boolean;
  readonly stderr: boolean;
}

export interface PortForwardRequest {
  readonly podSandboxId: string;
  readonly ports: readonly number[];
}

/** Registers a session and returns the URL the client is to open for it. */
export interface StreamingServer {
  getExec(request: ExecRequest): Promise<string>;
  getAttach(request: AttachRequest): Promise<string>;
  getPortForward(request: PortForwardRequest): Promise<string>;
}

// Sequential unary calls from containerd's own Go client (what ctr is built on), one connection;
// bench/grpc-calls.ts builds and drives it (go build in GOPATH mode against Debian's gocode).
//   gocalls SOCKET setup        writes a small blob, an image naming it and a container
//   gocalls SOCKET METHOD N     one warm-up call, then N sequential calls of METHOD; prints ns per call
// METHOD: version, containers.get, content.info, content.read, images.get, leases.create+delete
package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/containerd/containerd"
	"github.com/containerd/containerd/containers"
	"github.com/containerd/containerd/content"
	"github.com/containerd/containerd/images"
	"github.com/containerd/containerd/leases"
	"github.com/containerd/containerd/namespaces"
	"github.com/gogo/protobuf/types"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

const (
	namespace = "perfcall"
	imageName = "perfcall.local/bench:1"
	containerID = "perfcall-bench"
)

var blob = []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:` + strings.Repeat("a", 64) + `","size":1500},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:` + strings.Repeat("b", 64) + `","size":760000}]}`)

func main() {
	client, err := containerd.New(os.Args[1])
	check(err)
	defer client.Close()
	ctx := namespaces.WithNamespace(context.Background(), namespace)
	desc := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromBytes(blob), Size: int64(len(blob))}
	if os.Args[2] == "setup" {
		check(content.WriteBlob(ctx, client.ContentStore(), "perfcall-blob", strings.NewReader(string(blob)), desc))
		_, err = client.ImageService().Create(ctx, images.Image{Name: imageName, Target: desc})
		if err != nil && !strings.Contains(err.Error(), "already exists") {
			check(err)
		}
		_, err = client.ContainerService().Create(ctx, containers.Container{ID: containerID, Image: imageName,
			Runtime: containers.RuntimeInfo{Name: "io.containerd.runc.v2"}, Spec: &types.Any{TypeUrl: "types.containerd.io/opencontainers/runtime-spec/1/Spec", Value: []byte("{}")}})
		if err != nil && !strings.Contains(err.Error(), "already exists") {
			check(err)
		}
		fmt.Println("ok")
		return
	}
	n, err := strconv.Atoi(os.Args[3])
	check(err)
	var call func() error
	switch os.Args[2] {
	case "version":
		call = func() error { _, err := client.Version(ctx); return err }
	case "containers.get":
		call = func() error { _, err := client.ContainerService().Get(ctx, containerID); return err }
	case "images.get":
		call = func() error { _, err := client.ImageService().Get(ctx, imageName); return err }
	case "content.info":
		call = func() error { _, err := client.ContentStore().Info(ctx, desc.Digest); return err }
	case "content.read":
		call = func() error {
			b, err := content.ReadBlob(ctx, client.ContentStore(), desc)
			if err == nil && len(b) != len(blob) {
				err = fmt.Errorf("read %d bytes, want %d", len(b), len(blob))
			}
			return err
		}
	case "leases.create+delete":
		call = func() error {
			l, err := client.LeasesService().Create(ctx, leases.WithRandomID())
			if err == nil {
				err = client.LeasesService().Delete(ctx, l)
			}
			return err
		}
	default:
		check(fmt.Errorf("unknown method %s", os.Args[2]))
	}
	check(call()) // the connection is up and warm
	// GOCALLS_GAP_US: an idle gap before each call, as between the calls of a real client
	gap, _ := strconv.Atoi(os.Getenv("GOCALLS_GAP_US"))
	var total time.Duration
	for i := 0; i < n; i++ {
		if gap > 0 {
			time.Sleep(time.Duration(gap) * time.Microsecond)
		}
		start := time.Now()
		check(call())
		total += time.Since(start)
	}
	fmt.Println(total.Nanoseconds() / int64(n))
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

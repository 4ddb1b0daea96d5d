package imagebuild

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/moby/moby/api/types/build"
	"github.com/moby/moby/client"
)

// Request is one image build.
type Request struct {
	// Context is the directory sent to the engine, absolute.
	Context string
	// Dockerfile is the Dockerfile's path, absolute; empty means
	// Dockerfile in Context. It may lie outside Context.
	Dockerfile string
	// Tags name the image ("name:tag"); the first is its main name.
	Tags []string
	// Args are the build arguments (ARG in the Dockerfile).
	Args map[string]string
	// Target is the stage of a multi-stage Dockerfile to build; empty
	// builds the last one.
	Target string
	// Labels are set on the image.
	Labels map[string]string
	// Log receives the build's progress, one step or output line at a
	// time; nil discards it.
	Log io.Writer
	// Classic builds with the classic builder instead of BuildKit; an
	// engine that refuses BuildKit gets the classic builder anyway.
	Classic bool
}

// Image is a built image.
type Image struct {
	// ID is the image's ID, "sha256:...".
	ID string `json:"id"`
	// Tags are the names it was given.
	Tags []string `json:"tags"`
}

// cancelTimeout bounds the request that cancels a build whose context
// ended.
const cancelTimeout = 5 * time.Second

// Build builds the image req describes with the engine c. A failure in a
// Dockerfile step is a *StepError with the engine's message; cancelling
// ctx stops the build.
func Build(ctx context.Context, c *client.Client, req Request) (Image, error) {
	a, dockerfile, err := prepare(req)
	if err != nil {
		return Image{}, err
	}
	buildID := newBuildID()
	args := make(map[string]*string, len(req.Args))
	for k, v := range req.Args {
		args[k] = &v
	}
	opts := client.ImageBuildOptions{
		Tags:       req.Tags,
		Dockerfile: dockerfile,
		BuildArgs:  args,
		Target:     req.Target,
		Labels:     req.Labels,
		Remove:     true,
		// The classic builder otherwise keeps the container of a failed step.
		ForceRemove: true,
		Version:     build.BuilderBuildKit,
		BuildID:     buildID,
	}
	if req.Classic {
		opts.Version = build.BuilderV1
	}
	res, err := send(ctx, c, a, opts)
	if err != nil && !req.Classic && ctx.Err() == nil && strings.Contains(strings.ToLower(err.Error()), "buildkit") {
		// An engine without BuildKit (Windows, or one built without
		// it) still builds with the classic builder.
		fmt.Fprintf(logOf(req), "velocity: the engine refused BuildKit (%v); building with the classic builder\n", err)
		opts.Version = build.BuilderV1
		res, err = send(ctx, c, a, opts)
	}
	if err != nil {
		if ctx.Err() != nil {
			return Image{}, ctx.Err()
		}
		return Image{}, fmt.Errorf("build: %w", err)
	}
	stop := context.AfterFunc(ctx, func() {
		// Closing the request alone may leave BuildKit working on.
		cctx, cancel := context.WithTimeout(context.Background(), cancelTimeout)
		defer cancel()
		c.BuildCancel(cctx, buildID, client.BuildCancelOptions{})
		res.Body.Close()
	})
	defer stop()
	defer res.Body.Close()
	p := newProgress(req.Log)
	err = p.read(res.Body)
	if ctx.Err() != nil {
		return Image{}, ctx.Err()
	}
	if err != nil {
		return Image{}, err
	}
	if p.id == "" {
		return Image{}, errors.New("the engine finished the build without naming the image")
	}
	return Image{ID: p.id, Tags: slices.Clone(req.Tags)}, nil
}

// send starts a build, streaming the context archive as its body.
func send(ctx context.Context, c *client.Client, a *archive, opts client.ImageBuildOptions) (client.ImageBuildResult, error) {
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(a.write(pw)) }()
	res, err := c.ImageBuild(ctx, pr, opts)
	if err != nil {
		pr.CloseWithError(err)
	}
	return res, err
}

func logOf(req Request) io.Writer {
	if req.Log == nil {
		return io.Discard
	}
	return req.Log
}

// prepare checks req's files and says what to send: the archive, and the
// Dockerfile's name inside it.
func prepare(req Request) (*archive, string, error) {
	info, err := os.Stat(req.Context)
	if err != nil {
		return nil, "", fmt.Errorf("build context: %w", err)
	}
	if !info.IsDir() {
		return nil, "", fmt.Errorf("build context %s is not a directory", req.Context)
	}
	file := req.Dockerfile
	if file == "" {
		file = filepath.Join(req.Context, "Dockerfile")
	}
	a := &archive{dir: req.Context, keep: map[string]bool{".dockerignore": true}}
	name, inside := dockerfileIn(req.Context, file)
	if inside {
		if _, err := os.Stat(file); err != nil {
			return nil, "", fmt.Errorf("Dockerfile: %w", err)
		}
		a.keep[name] = true
	} else {
		if a.dockerfile, err = os.ReadFile(file); err != nil {
			return nil, "", fmt.Errorf("Dockerfile: %w", err)
		}
		name = extraDockerfile
	}
	f, err := os.Open(filepath.Join(req.Context, ".dockerignore"))
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, "", err
	default:
		a.ignore, err = parseIgnore(f)
		f.Close()
		if err != nil {
			return nil, "", err
		}
	}
	return a, name, nil
}

// newBuildID names a build so that it can be cancelled.
func newBuildID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return "velocity-" + hex.EncodeToString(b)
}

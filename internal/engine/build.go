package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path"
	"path/filepath"
	"strings"

	"github.com/velocity-ci/velocity/internal/plan"
	"github.com/velocity-ci/velocity/internal/spec"
	"github.com/velocity-ci/velocity/internal/store"
)

// Images builds the images of build actions. Its methods may be called
// concurrently, from the attempts' goroutines; a cancelled ctx stops what
// they do.
type Images interface {
	// Build builds b's image and gives it b.Tags, writing the build's
	// progress to b.Log. A failed build is an error worded for the user
	// (the Dockerfile step and the engine's message).
	Build(ctx context.Context, b ImageBuild) (store.Image, error)
	// Exists reports whether the engine still holds the image id: a
	// cached result is usable only then.
	Exists(ctx context.Context, id string) (bool, error)
	// Tag gives the image id the names tags (NAME:TAG).
	Tag(ctx context.Context, id string, tags []string) error
	// CanPush reports, as an error saying how to get one, that the run
	// has no registry to push to; build actions that push call it before
	// building, so that a missing registry costs no build.
	CanPush(ctx context.Context) error
	// Push pushes img's tags to the registry of the run and returns the
	// pushed references.
	Push(ctx context.Context, img store.Image, log io.Writer) ([]string, error)
}

// ImageBuild is one build action's request.
type ImageBuild struct {
	RunID         int64
	Stage, Action string
	// Context and Dockerfile are absolute paths in the run's workspace.
	Context, Dockerfile string
	Tags                []string
	Args                map[string]string
	Target              string
	Log                 io.Writer
}

// ImageEnv is the variable through which later actions get the image a
// build action built: VELOCITY_IMAGE_<ACTION>, the action's name in upper
// case with "-" and "." as "_". It holds the image ID; _TAG appended
// holds its first tag (the one with the commit).
func ImageEnv(action string) string {
	return "VELOCITY_IMAGE_" + strings.NewReplacer("-", "_", ".", "_").Replace(strings.ToUpper(action))
}

// ImageOf returns the image the build action from ("ACTION" or
// "STAGE/ACTION", as a service's from is written) built in a run, among
// the images the run recorded (store.Store.Images, Deploy.Images): what a
// service whose from names a build action deploys.
func ImageOf(images []store.Image, from string) (store.Image, bool) {
	stage, action, ok := strings.Cut(from, "/")
	if !ok {
		stage, action = "", from
	}
	for _, img := range images {
		if img.Action == action && (stage == "" || img.Stage == stage) {
			return img, true
		}
	}
	return store.Image{}, false
}

// buildDefinition is what of a build action goes into its cache key:
// everything but the tags' commit, so that a new commit with the same
// files reuses the image (and tags it anew).
func buildDefinition(b *spec.Build) string {
	def, _ := json.Marshal(struct {
		Context, Dockerfile, Target string
		Tags                        []string
		Args                        map[string]string
		Push                        bool
	}{b.Context, b.Dockerfile, b.Target, b.Tags, b.Args, b.Push})
	return string(def)
}

// imageTags resolves n's tags: NAME becomes NAME:COMMIT and NAME:latest,
// NAME:TAG stays; no tags means PROJECT/ACTION.
func (x *execution) imageTags(n *plan.Node) []string {
	names := n.Build.Tags
	if len(names) == 0 {
		names = []string{imageComponent(x.run.Plan.Project) + "/" + imageComponent(n.Name)}
	}
	version := x.run.Commit
	if len(version) > 12 {
		version = version[:12]
	}
	if version == "" {
		version = fmt.Sprintf("run-%d", x.run.ID)
	}
	var tags []string
	for _, t := range names {
		if _, tag := spec.SplitImageTag(t); tag != "" {
			tags = append(tags, t)
			continue
		}
		tags = append(tags, t+":"+version, t+":latest")
	}
	return tags
}

// imageComponent makes a project or action name a component of an image
// name, which Docker wants in lower case, of letters and digits joined by
// single separators.
func imageComponent(s string) string {
	var b strings.Builder
	sep := false
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			if sep && b.Len() > 0 {
				b.WriteByte('-')
			}
			sep = false
			b.WriteRune(r)
		default:
			sep = true
		}
	}
	if b.Len() == 0 {
		return "image"
	}
	return b.String()
}

// buildImage builds n's image, pushes it when asked, and records it.
func (x *execution) buildImage(ctx context.Context, n *plan.Node, out io.Writer) (store.Status, int, string, error) {
	if x.Images == nil {
		st, code, msg := fail(out, fmt.Sprintf("cannot build the image of %s here: no Docker Engine", n.ID()))
		return st, code, msg, nil
	}
	b := n.Build
	if b.Push {
		if err := x.Images.CanPush(ctx); err != nil {
			st, code, msg := fail(out, fmt.Sprintf("cannot push the image of %s: %v", n.ID(), err))
			return st, code, msg, nil
		}
	}
	actx := ctx
	if n.Timeout > 0 {
		var cancel context.CancelFunc
		actx, cancel = context.WithTimeout(ctx, n.Timeout)
		defer cancel()
	}
	dir := filepath.Join(x.run.Dir, filepath.FromSlash(b.Context))
	img, err := x.Images.Build(actx, ImageBuild{
		RunID: x.run.ID, Stage: n.Stage, Action: n.Name,
		Context:    dir,
		Dockerfile: filepath.Join(x.run.Dir, filepath.FromSlash(path.Join(b.Context, b.Dockerfile))),
		Tags:       x.imageTags(n), Args: b.Args, Target: b.Target, Log: out,
	})
	switch {
	case err == nil:
	case ctx.Err() != nil:
		return store.Cancelled, -1, "cancelled", nil
	case actx.Err() != nil:
		st, code, msg := fail(out, fmt.Sprintf("timed out after %v", n.Timeout))
		return st, code, msg, nil
	default:
		st, code, msg := fail(out, fmt.Sprintf("image build failed: %v", err))
		return st, code, msg, nil
	}
	img.Stage, img.Action = n.Stage, n.Name
	return x.finishImage(ctx, n, img, out)
}

// finishImage pushes a built or reused image when n asks for it, records
// it with the run and makes it what later actions see.
func (x *execution) finishImage(ctx context.Context, n *plan.Node, img store.Image, out io.Writer) (store.Status, int, string, error) {
	img.Pushed = nil
	if n.Build.Push {
		pushed, err := x.Images.Push(ctx, img, out)
		if err != nil {
			if ctx.Err() != nil {
				return store.Cancelled, -1, "cancelled", nil
			}
			st, code, msg := fail(out, fmt.Sprintf("cannot push the image of %s: %v", n.ID(), err))
			return st, code, msg, nil
		}
		img.Pushed = pushed
	}
	if err := x.Journal.SetImage(context.WithoutCancel(ctx), x.run.ID, img); err != nil {
		return store.Failed, -1, "", fmt.Errorf("%w: %w", errJournal, err)
	}
	fmt.Fprintf(out, "velocity: image %s (%s)\n", img.ID, strings.Join(img.Tags, ", "))
	x.mu.Lock()
	x.images[n] = img
	// What depends on the action is keyed on the image it built.
	x.outputs[n] = "image " + img.ID
	x.mu.Unlock()
	return store.Succeeded, 0, "", nil
}

// cachedImage finds the image of a result-cache hit of build action n and
// checks that the engine still has it; the error says why the hit cannot
// be used (the image was removed: rebuild).
func (x *execution) cachedImage(ctx context.Context, n *plan.Node, h *hit) (store.Image, error) {
	if x.Images == nil {
		return store.Image{}, fmt.Errorf("no Docker Engine to check the image")
	}
	images, err := x.Journal.Images(ctx, h.from)
	if err != nil {
		return store.Image{}, fmt.Errorf("%w: %w", errJournal, err)
	}
	img, ok := ImageOf(images, h.stage+"/"+h.action)
	if !ok {
		return store.Image{}, fmt.Errorf("run %d recorded no image", h.from)
	}
	there, err := x.Images.Exists(ctx, img.ID)
	if err != nil {
		return store.Image{}, err
	}
	if !there {
		return store.Image{}, fmt.Errorf("image %s is no longer in the Docker Engine", img.ID)
	}
	img.Stage, img.Action = n.Stage, n.Name
	img.Tags = x.imageTags(n)
	if err := x.Images.Tag(ctx, img.ID, img.Tags); err != nil {
		return store.Image{}, err
	}
	return img, nil
}

// imageEnv is what n sees of the images built before it.
func (x *execution) imageEnv(n *plan.Node) []string {
	var env []string
	for _, b := range n.Before() {
		img, ok := x.images[b]
		if !ok {
			continue
		}
		name := ImageEnv(b.Name)
		env = append(env, name+"="+img.ID)
		if len(img.Tags) > 0 {
			env = append(env, name+"_TAG="+img.Tags[0])
		}
	}
	return env
}

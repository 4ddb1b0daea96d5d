package spec

import (
	"fmt"
	"slices"
	"strings"

	"github.com/velocity-ci/velocity/internal/typo"
)

// This file holds the checks that relate services, environments and the
// actions that deploy them: a service's release is built by an action
// with outputs, and a deploy names a service and an environment that
// exist and runs after the release is built.

// actionRef locates an action: p.Stages[stage], list listActions,
// listOnFailure or listFinally, index i.
type actionRef struct {
	stage, list, i int
}

func (r actionRef) action(p *Pipeline) *Action {
	return &stageLists(&p.Stages[r.stage])[r.list][r.i]
}

// actionIndex finds actions by name, alone or as "stage/action".
type actionIndex struct {
	byName      map[string][]actionRef
	byQualified map[string]actionRef
	// names and qualified are the candidates for suggestions, in file
	// order.
	names, qualified []string
}

func indexActions(p *Pipeline, src *pipelineSource) *actionIndex {
	x := &actionIndex{byName: map[string][]actionRef{}, byQualified: map[string]actionRef{}}
	for si := range p.Stages {
		s := &p.Stages[si]
		for list, actions := range stageLists(s) {
			for i, a := range actions {
				if src.stages[si].lists[list][i].name == (Pos{}) {
					continue
				}
				ref := actionRef{si, list, i}
				if len(x.byName[a.Name]) == 0 {
					x.names = append(x.names, a.Name)
				}
				x.byName[a.Name] = append(x.byName[a.Name], ref)
				if s.Name == "" {
					continue
				}
				q := s.Name + "/" + a.Name
				if _, dup := x.byQualified[q]; !dup {
					x.byQualified[q] = ref
					x.qualified = append(x.qualified, q)
				}
			}
		}
	}
	return x
}

// checkServices resolves each service's from to the action that builds
// its release, reporting those that name none or one without outputs,
// and returns the resolved ones by service name.
func checkServices(c *collector, p *Pipeline, src *pipelineSource) map[string]actionRef {
	x := indexActions(p, src)
	releases := map[string]actionRef{}
	for i, svc := range p.Services {
		ss := src.services[i]
		if ss.from == (Pos{}) {
			continue
		}
		at := join(ss.path, "from")
		fail := func(format string, args ...any) {
			c.add(ss.from, at, "service %s: %s", svc.Name, fmt.Sprintf(format, args...))
		}
		var ref actionRef
		if strings.Contains(svc.From, "/") {
			r, ok := x.byQualified[svc.From]
			if !ok {
				fail("from %q is not an action of the pipeline%s", svc.From, typo.DidYouMean(svc.From, x.qualified))
				continue
			}
			ref = r
		} else {
			refs := x.byName[svc.From]
			if len(refs) == 0 {
				fail("from %q is not an action of the pipeline%s", svc.From, typo.DidYouMean(svc.From, x.names))
				continue
			}
			if len(refs) > 1 {
				var forms []string
				for _, r := range refs {
					forms = append(forms, fmt.Sprintf("%q", p.Stages[r.stage].Name+"/"+svc.From))
				}
				fail("from %q names actions of %d stages; write one of %s", svc.From, len(refs), strings.Join(forms, ", "))
				continue
			}
			ref = refs[0]
		}
		a := ref.action(p)
		if a.Build == nil {
			if ss.noRun != (Pos{}) {
				c.add(ss.noRun, ss.path, "missing required key %q (a service from an action's release runs a command; only from: a build action runs the image's own)", "run")
			}
			if ss.port != (Pos{}) {
				c.add(ss.port, join(ss.path, "port"), portOnlyForImages)
			}
		}
		switch {
		case a.Deploy != "":
			fail("from %q is a deploy action; name the action that builds the release", svc.From)
		case a.Build != nil:
			// The release is the image the action builds.
			releases[svc.Name] = ref
		case !src.stages[ref.stage].lists[ref.list][ref.i].outputs:
			fail("from %q has no outputs; add outputs: [...] to that action", svc.From)
		default:
			releases[svc.Name] = ref
		}
	}
	return releases
}

// checkDeploys reports deploy actions whose service or environment does
// not exist, or that may start before their service's release is built.
func checkDeploys(c *collector, p *Pipeline, src *pipelineSource, releases map[string]actionRef) {
	services := make([]string, len(p.Services))
	for i, s := range p.Services {
		services[i] = s.Name
	}
	envs := make([]string, len(p.Environments))
	for i, e := range p.Environments {
		envs[i] = e.Name
	}
	reportedEnvs := false
	hosts := hostClaims{}
	for si := range p.Stages {
		for list, actions := range stageLists(&p.Stages[si]) {
			for i, a := range actions {
				as := src.stages[si].lists[list][i]
				if as.deploy == (Pos{}) {
					continue
				}
				at := join(as.path, "deploy")
				if !slices.Contains(services, a.Deploy) {
					c.add(as.deploy, at, "%q is not a service%s", a.Deploy, known(a.Deploy, services, "services"))
				} else if release, ok := releases[a.Deploy]; ok && a.Run == "" {
					// With run as well, which is reported, the action may
					// not be meant as a deploy at all.
					checkDeployOrder(c, p, src, actionRef{si, list, i}, release)
				}
				if !src.environments {
					// One error says it: the fix is one key at the top.
					if !reportedEnvs {
						c.add(as.deployKey, at, "deploying needs environments; declare them at the top level, such as environments: {staging: {}}")
						reportedEnvs = true
					}
					continue
				}
				if as.environment != (Pos{}) && !slices.Contains(envs, a.Environment) {
					c.add(as.environment, join(as.path, "environment"), "%q is not an environment%s", a.Environment, known(a.Environment, envs, "environments"))
				} else if slices.Contains(services, a.Deploy) {
					hosts.claim(c, p, a, as.deploy, at)
				}
			}
		}
	}
}

// hostClaims are the hosts deploys route, with the first service and
// environment that claimed each: the proxy routes a host to one service.
type hostClaims map[string]hostClaim

type hostClaim struct {
	service, env string
	line         int
}

// claim records the hosts deploy action a routes and reports one that
// another service already claimed, such as a host without {service} in
// an environment two services deploy to.
func (h hostClaims) claim(c *collector, p *Pipeline, a Action, at Pos, path string) {
	i := slices.IndexFunc(p.Environments, func(e Environment) bool { return e.Name == a.Environment })
	if i < 0 {
		return
	}
	env := p.Environments[i]
	for _, pattern := range env.Hosts {
		host := strings.ReplaceAll(pattern, serviceVar, a.Deploy)
		first, taken := h[host]
		switch {
		case !taken:
			h[host] = hostClaim{a.Deploy, env.Name, at.Line}
		case first.service == a.Deploy:
			// The same service again (a rollback action, another
			// stage): it owns the host already.
		case first.env == env.Name:
			c.add(at, path, "deploys %s to environment %s, whose host %q already routes to service %s (deployed at line %d); a host routes to one service: write the hosts with {service}, such as %q, or deploy %s to an environment of its own",
				a.Deploy, env.Name, host, first.service, first.line, "{service}."+strings.TrimPrefix(pattern, "{service}."), a.Deploy)
		default:
			c.add(at, path, "deploys %s to environment %s, whose host %q is also where environment %s routes service %s (deployed at line %d); a host routes to one service: give the environments different hosts",
				a.Deploy, env.Name, host, first.env, first.service, first.line)
		}
	}
}

// known suggests the candidate closest to word or, when none is close,
// lists them all: there are seldom many services or environments.
func known(word string, candidates []string, what string) string {
	if s := typo.DidYouMean(word, candidates); s != "" {
		return s
	}
	if len(candidates) == 0 {
		return fmt.Sprintf("; none are declared (add %s at the top level)", what)
	}
	return fmt.Sprintf(" (%s: %s)", what, strings.Join(candidates, ", "))
}

// checkDeployOrder reports a deploy that may start before the action
// that builds its release has succeeded: one in an earlier stage, or in
// the same list of the same stage without needing it.
func checkDeployOrder(c *collector, p *Pipeline, src *pipelineSource, deploy, release actionRef) {
	a, r := deploy.action(p), release.action(p)
	as := src.stages[deploy.stage].lists[deploy.list][deploy.i]
	at := join(as.path, "deploy")
	switch {
	case release.stage > deploy.stage:
		c.add(as.deploy, at, "deploys %s before its release is built: %q runs in stage %q, which comes later",
			a.Deploy, r.Name, p.Stages[release.stage].Name)
	case release.stage < deploy.stage:
	case release.list != deploy.list:
		// on_failure and finally run after actions; the reverse, or
		// between on_failure and finally, cannot wait for the release.
		if release.list != listActions {
			c.add(as.deploy, at, "deploys %s, whose release %q is built in %s of this stage, which does not run before %s",
				a.Deploy, r.Name, listKey(release.list), listKey(deploy.list))
		}
	case !needsTransitively(stageLists(&p.Stages[deploy.stage])[deploy.list], deploy.i, release.i):
		c.add(as.deploy, at, "deploys %s, whose release %q is built in this stage; add %q to needs so it is built first",
			a.Deploy, r.Name, r.Name)
	}
}

// needsTransitively reports whether action from of actions needs action
// to, directly or through other needs.
func needsTransitively(actions []Action, from, to int) bool {
	byName := map[string]int{}
	for i, a := range actions {
		if _, dup := byName[a.Name]; !dup {
			byName[a.Name] = i
		}
	}
	seen := make([]bool, len(actions))
	stack := []int{from}
	for len(stack) > 0 {
		u := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, need := range actions[u].Needs {
			v, ok := byName[need]
			if !ok || seen[v] {
				continue
			}
			if v == to {
				return true
			}
			seen[v] = true
			stack = append(stack, v)
		}
	}
	return false
}

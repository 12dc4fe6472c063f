package logic

import (
	"context"
	"fmt"
	"sync"

	"cel.dev/cel-go/cel"
)

// conditions compiles event conditions (webhook subscriptions' when:) on demand: those of
// the spec at load, with positions; those made through the admin API when they are made.
// They see old, new and record of one resource, like a trigger's when.
type conditions struct {
	mu    sync.RWMutex // envs caches environments in a plain map; writes hold it
	envs  *envs
	progs map[[2]string]*program // (resource, source) → program
}

func (c *compiler) webhookConditions() *conditions {
	cs := &conditions{envs: c.envs, progs: map[[2]string]*program{}}
	for _, w := range c.spec.Webhooks.Subscriptions {
		res := w.Resource()
		if !w.When.Set() || res == "" || c.spec.Resource(res) == nil {
			continue
		}
		if p := c.program(scope{resource: res, trigger: true}, w.When, cel.BoolType, "webhook "+w.Name+" when"); p != nil {
			cs.progs[[2]string{res, w.When.Text}] = p
		}
	}
	return cs
}

// get is the compiled condition src over resource, compiled once (cached): as stored, not
// strictly (compile) — a condition accepted earlier goes on deciding as it did.
func (cs *conditions) get(resource, src string) (*program, error) {
	key := [2]string{resource, src}
	cs.mu.RLock() // every write that a subscription's when: applies to comes here
	p := cs.progs[key]
	cs.mu.RUnlock()
	if p != nil {
		return p, nil
	}
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if p := cs.progs[key]; p != nil {
		return p, nil
	}
	if cs.envs.spec.Resource(resource) == nil {
		return nil, fmt.Errorf("no resource %s", resource)
	}
	p, err := cs.envs.build(scope{resource: resource, trigger: true}, src, cel.BoolType, false)
	if err != nil {
		return nil, err
	}
	if len(cs.progs) < maxConditions {
		cs.progs[key] = p
	}
	return p, nil
}

// maxConditions bounds the cache of compiled conditions.
const maxConditions = 10000

// CheckCondition type-checks a condition over old and new of resource, strictly (compile):
// one the admin API is given.
func (l *Logic) CheckCondition(resource, src string) error {
	cs := l.conditions
	if cs.envs.spec.Resource(resource) == nil {
		return fmt.Errorf("no resource %s", resource)
	}
	cs.mu.Lock() // compiling fills envs' map of environments
	defer cs.mu.Unlock()
	_, err := cs.envs.compile(scope{resource: resource, trigger: true}, src, cel.BoolType, true)
	return err
}

// ConditionHolds evaluates a condition over vars (Old the record before, an empty record
// on create; New the record after). A condition that cannot be computed is an *EvalError —
// so is a stored one that no longer compiles against the spec (a field it names was removed):
// the write is refused as for any condition that cannot be computed, not failed as internal.
func (l *Logic) ConditionHolds(ctx context.Context, reader Reader, vars *Vars, resource, src string) (bool, error) {
	p, err := l.conditions.get(resource, src)
	if err != nil {
		return false, &EvalError{Expr: src, Err: err}
	}
	return p.holds(ctx, reader, vars)
}

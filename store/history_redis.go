package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/quicpush/quicpush/history"
)

// History is the cluster's history.Store on Redis: each stream a Redis
// stream of its messages (entry id "<offset>-1", fields i = message id,
// d = payload, t = acceptance in unix ms) and a small hash of its position
// (e = epoch, t = latest offset, x = the highest offset trimmed by size or
// age). Every write to a stream is one Lua script, so a position is never
// handed out without its message stored, or its loss recorded.
//
//	qp:h:<stream>    STREAM  the messages; PEXPIRE the policy's TTL
//	qp:hm:<stream>   HASH    e, t, x; PEXPIRE the meta TTL (24h by default)
//
// Redis losing a stream's hash (flushed, restarted without persistence,
// evicted) makes the next write or read start a new epoch, so clients holding
// positions of the old one are told NotRecovered. Losing only the messages
// (expired, evicted) is recorded as everything up to the latest offset
// trimmed: same answer, same epoch.
type History struct {
	c        redis.UniversalClient
	keys     keys
	policies history.Policies
	now      func() time.Time
}

var _ history.Store = (*History)(nil)

// NewHistory returns the history of streams in client under prefix ("" means
// DefaultPrefix), with policies deciding each stream's size and age.
func NewHistory(client redis.UniversalClient, prefix string, policies history.Policies) *History {
	return &History{c: client, keys: newKeys(prefix), policies: policies, now: time.Now}
}

func (k keys) histStream(s string) string { return k.prefix + "h:" + s }
func (k keys) histMeta(s string) string   { return k.prefix + "hm:" + s }

// histCommon holds the Lua shared by the scripts: reading a stream's hash and
// dropping entries past their age. KEYS[1] the stream, KEYS[2] its hash.
const histCommon = `
local function fieldOf(e, name)
  local f = e[2]
  for j = 1, #f, 2 do if f[j] == name then return f[j+1] end end
  return nil
end
local function offOf(id) return string.match(id, '^(%d+)') end
-- expire drops entries accepted before cut (unix ms), oldest first, and
-- returns the highest offset it dropped (or nil).
local function expire(cut)
  local last = nil
  for round = 1, 100 do
    local head = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 16)
    if #head == 0 then return last end
    for _, e in ipairs(head) do
      local t = tonumber(fieldOf(e, 't') or '0')
      if t >= cut then return last end
      redis.call('XDEL', KEYS[1], e[1])
      last = offOf(e[1])
    end
  end
  return last
end
local function num(s) return tonumber(s or '0') end
`

// histAppendScript appends messages to one stream.
//
// ARGV: now ms, size, ttl ms, meta ttl ms, epoch for a new stream, epoch for
// a restarted one, then (offset, id, data, accepted ms) per message.
// Returns the epoch.
var histAppendScript = redis.NewScript(histCommon + `
local m = redis.call('HMGET', KEYS[2], 'e', 't', 'x')
local epoch, top, trimmed = m[1], m[2] or '0', m[3] or '0'
if not epoch then
  epoch, top, trimmed = ARGV[5], '0', '0'
  redis.call('DEL', KEYS[1])
end
for i = 7, #ARGV, 4 do
  local off = ARGV[i]
  local add = num(off) > num(top)
  if not add then
    local e = redis.call('XRANGE', KEYS[1], off .. '-1', off .. '-1')
    if #e == 1 and fieldOf(e[1], 'i') ~= ARGV[i+1] then
      -- The bus's offsets started over: so does the stream.
      epoch, top, trimmed = ARGV[6], '0', '0'
      redis.call('DEL', KEYS[1])
      add = true
    end
  end
  if add then
    redis.call('XADD', KEYS[1], off .. '-1', 'i', ARGV[i+1], 'd', ARGV[i+2], 't', ARGV[i+3])
    top = off
  end
end
local size = num(ARGV[2])
local n = redis.call('XLEN', KEYS[1])
if n > size then
  local old = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', n - size)
  local o = offOf(old[#old][1])
  if num(o) > num(trimmed) then trimmed = o end
  redis.call('XTRIM', KEYS[1], 'MAXLEN', size)
end
local e = expire(num(ARGV[1]) - num(ARGV[3]))
if e and num(e) > num(trimmed) then trimmed = e end
redis.call('HSET', KEYS[2], 'e', epoch, 't', top, 'x', trimmed)
redis.call('PEXPIRE', KEYS[2], ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return epoch
`)

// histReadScript reads a stream's position, starting the stream when it has
// none, and (for a limit above 0) the entries after a position.
//
// ARGV: now ms, ttl ms, meta ttl ms, epoch for a new stream, from offset,
// from epoch, limit. Returns {epoch, top, trimmed, entries}.
var histReadScript = redis.NewScript(histCommon + `
local m = redis.call('HMGET', KEYS[2], 'e', 't', 'x')
local epoch, top, trimmed = m[1], m[2] or '0', m[3] or '0'
local changed = false
if not epoch then
  epoch, top, trimmed = ARGV[4], '0', '0'
  redis.call('DEL', KEYS[1])
  changed = true
end
if redis.call('EXISTS', KEYS[1]) == 0 and num(top) > num(trimmed) then
  -- The messages expired (or were evicted) as a whole.
  trimmed = top
  changed = true
end
local e = expire(num(ARGV[1]) - num(ARGV[2]))
if e and num(e) > num(trimmed) then
  trimmed = e
  changed = true
end
if changed then
  redis.call('HSET', KEYS[2], 'e', epoch, 't', top, 'x', trimmed)
  redis.call('PEXPIRE', KEYS[2], ARGV[3])
end
local entries = {}
local limit = num(ARGV[7])
if limit > 0 then
  local start = '-'
  if ARGV[6] == epoch and num(ARGV[5]) >= num(trimmed) and num(ARGV[5]) <= num(top) then
    start = '(' .. ARGV[5] .. '-1'
  end
  entries = redis.call('XRANGE', KEYS[1], start, '+', 'COUNT', limit + 1)
end
return {epoch, top, trimmed, entries}
`)

// Append implements history.Store: one script per stream, all in one
// pipeline.
func (h *History) Append(ctx context.Context, items []history.Item) (map[string]string, error) {
	type group struct {
		stream string
		args   []any
	}
	var groups []*group
	byStream := make(map[string]*group)
	now := strconv.FormatInt(h.now().UnixMilli(), 10)
	mttl := strconv.FormatInt(h.metaTTL().Milliseconds(), 10)
	for _, it := range items {
		g := byStream[it.Stream]
		if g == nil {
			p := h.policies.For(it.Stream)
			if !p.Enabled() {
				continue
			}
			g = &group{stream: it.Stream, args: []any{now, p.Size, p.TTL.Milliseconds(), mttl, history.NewEpoch(), history.NewEpoch()}}
			byStream[it.Stream] = g
			groups = append(groups, g)
		}
		e := it.Entry
		g.args = append(g.args, strconv.FormatUint(e.Offset, 10), e.ID, e.Data, e.Accepted.UnixMilli())
	}
	if len(groups) == 0 {
		return map[string]string{}, nil
	}
	run := func(eval func(redis.Pipeliner, *group) *redis.Cmd) ([]*redis.Cmd, error) {
		pipe := h.c.Pipeline()
		cmds := make([]*redis.Cmd, len(groups))
		for i, g := range groups {
			cmds[i] = eval(pipe, g)
		}
		_, err := pipe.Exec(ctx)
		return cmds, err
	}
	keysOf := func(g *group) []string { return []string{h.keys.histStream(g.stream), h.keys.histMeta(g.stream)} }
	cmds, err := run(func(p redis.Pipeliner, g *group) *redis.Cmd {
		return histAppendScript.EvalSha(ctx, p, keysOf(g), g.args...)
	})
	if err != nil && isNoScript(err) {
		// Redis restarted and forgot the script: send it whole once.
		cmds, err = run(func(p redis.Pipeliner, g *group) *redis.Cmd {
			return histAppendScript.Eval(ctx, p, keysOf(g), g.args...)
		})
	}
	if err != nil {
		return nil, fmt.Errorf("store: history append: %w", err)
	}
	epochs := make(map[string]string, len(groups))
	for i, g := range groups {
		ep, err := cmds[i].Text()
		if err != nil {
			return nil, fmt.Errorf("store: history append %q: %w", g.stream, err)
		}
		epochs[g.stream] = ep
	}
	return epochs, nil
}

func isNoScript(err error) bool {
	return err != nil && strings.HasPrefix(err.Error(), "NOSCRIPT")
}

func (h *History) metaTTL() time.Duration {
	if h.policies.MetaTTL > 0 {
		return h.policies.MetaTTL
	}
	return history.DefaultMetaTTL
}

// read runs the read script.
func (h *History) read(ctx context.Context, stream string, from history.Position, limit int) (history.Position, uint64, []any, error) {
	p := h.policies.For(stream)
	ks := []string{h.keys.histStream(stream), h.keys.histMeta(stream)}
	res, err := histReadScript.Run(ctx, h.c, ks, h.now().UnixMilli(), p.TTL.Milliseconds(), h.metaTTL().Milliseconds(),
		history.NewEpoch(), strconv.FormatUint(from.Offset, 10), from.Epoch, limit).Slice()
	if err != nil {
		return history.Position{}, 0, nil, fmt.Errorf("store: history read %q: %w", stream, err)
	}
	if len(res) != 4 {
		return history.Position{}, 0, nil, fmt.Errorf("store: history read %q: unexpected reply %v", stream, res)
	}
	epoch, _ := res[0].(string)
	top, err1 := parseUint(res[1])
	trimmed, err2 := parseUint(res[2])
	entries, _ := res[3].([]any)
	if err := errors.Join(err1, err2); err != nil {
		return history.Position{}, 0, nil, fmt.Errorf("store: history read %q: %w", stream, err)
	}
	return history.Position{Offset: top, Epoch: epoch}, trimmed, entries, nil
}

// Top implements history.Store.
func (h *History) Top(ctx context.Context, stream string) (history.Position, error) {
	if !h.policies.For(stream).Enabled() {
		return history.Position{}, nil
	}
	top, _, _, err := h.read(ctx, stream, history.Position{}, 0)
	return top, err
}

// Since implements history.Store.
func (h *History) Since(ctx context.Context, stream string, from history.Position, limit int) (history.Result, error) {
	if !h.policies.For(stream).Enabled() {
		return history.Result{Truncated: !from.IsZero()}, nil
	}
	top, trimmed, raw, err := h.read(ctx, stream, from, max(limit, 1))
	if err != nil {
		return history.Result{}, err
	}
	r := history.Result{Top: top}
	r.Truncated = !from.IsZero() && (from.Epoch != top.Epoch || from.Offset < trimmed || from.Offset > top.Offset)
	for _, x := range raw {
		e, err := parseEntry(x)
		if err != nil {
			return history.Result{}, fmt.Errorf("store: history read %q: %w", stream, err)
		}
		r.Entries = append(r.Entries, e)
	}
	if len(r.Entries) > limit {
		r.Entries, r.More = r.Entries[:limit], true
	}
	return r, nil
}

// parseEntry turns an XRANGE entry ({id, {field, value, ...}}) into an
// Entry.
func parseEntry(x any) (history.Entry, error) {
	pair, ok := x.([]any)
	if !ok || len(pair) != 2 {
		return history.Entry{}, fmt.Errorf("bad entry %v", x)
	}
	id, _ := pair[0].(string)
	off, _, _ := strings.Cut(id, "-")
	offset, err := strconv.ParseUint(off, 10, 64)
	if err != nil {
		return history.Entry{}, fmt.Errorf("bad entry id %q", id)
	}
	e := history.Entry{Offset: offset}
	fields, _ := pair[1].([]any)
	for i := 0; i+1 < len(fields); i += 2 {
		name, _ := fields[i].(string)
		val, _ := fields[i+1].(string)
		switch name {
		case "i":
			e.ID = val
		case "d":
			e.Data = []byte(val)
		case "t":
			ms, err := strconv.ParseInt(val, 10, 64)
			if err != nil {
				return history.Entry{}, fmt.Errorf("bad time %q", val)
			}
			e.Accepted = time.UnixMilli(ms)
		}
	}
	return e, nil
}

func parseUint(x any) (uint64, error) {
	switch v := x.(type) {
	case string:
		return strconv.ParseUint(v, 10, 64)
	case int64:
		return uint64(v), nil
	}
	return 0, fmt.Errorf("not a number: %v", x)
}

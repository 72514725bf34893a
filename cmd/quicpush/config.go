package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"slices"
	"sort"
	"strings"

	"github.com/alecthomas/kong"
	"go.yaml.in/yaml/v3"
)

// The configuration file. One YAML mapping serves every command: its keys
// are flag names as written on the command line (without the dashes), and
// each command takes the keys of its own flags and ignores those of the
// others, so that one file can describe a whole cluster. A key that is no
// command's flag is an error, so a typo never passes unnoticed.
//
// Precedence, highest first: the command line, the QUICPUSH_* environment,
// the file, the flag's default. docs/configuration.md has the details and
// docs/quicpush.example.yaml an example.

// configFlags is the --config flag, on every command.
type configFlags struct {
	Config kong.ConfigFlag `name:"config" placeholder:"FILE" help:"YAML configuration file: flag names as keys (e.g. jwt-secret: ...), one file for every command; the command line and QUICPUSH_* variables override it (docs/configuration.md)."`
}

// secretFlags never have their values printed (config check).
var secretFlags = map[string]bool{
	"jwt-secret": true, "jwt-key": true, "api-key": true, "redis-password": true, "proxy-header": true, "admin-token": true,
}

// loadYAML is kong's configuration loader for YAML files.
func loadYAML(r io.Reader) (kong.Resolver, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	var values map[string]any
	dec := yaml.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&values); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("configuration: %w", err)
	}
	return &fileResolver{values: values}, nil
}

// fileResolver gives flags their values from a configuration file.
type fileResolver struct {
	values map[string]any
}

// Validate refuses keys that are no command's flag.
func (r *fileResolver) Validate(app *kong.Application) error {
	known := map[string]bool{}
	var walk func(n *kong.Node)
	walk = func(n *kong.Node) {
		for _, f := range n.Flags {
			known[f.Name] = true
		}
		for _, c := range n.Children {
			walk(c)
		}
	}
	walk(app.Node)
	var unknown []string
	for k := range r.values {
		if !known[k] || k == "config" {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return fmt.Errorf("configuration: unknown keys %s (keys are flag names, such as jwt-secret)", strings.Join(unknown, ", "))
	}
	return nil
}

// Resolve gives a flag the file's value unless its environment variable is
// set: the environment overrides the file (kong would otherwise let a
// resolver win over it).
func (r *fileResolver) Resolve(_ *kong.Context, _ *kong.Path, flag *kong.Flag) (any, error) {
	v, ok := r.values[flag.Name]
	if !ok || v == nil {
		return nil, nil
	}
	for _, env := range flag.Envs {
		if _, set := os.LookupEnv(env); set {
			return nil, nil
		}
	}
	switch v := v.(type) {
	case []any:
		// A list of scalars: kong takes lists as []any of strings.
		out := make([]any, len(v))
		for i, e := range v {
			if _, nested := e.(map[string]any); nested {
				return nil, fmt.Errorf("configuration: %s: a list of values, not of mappings", flag.Name)
			}
			out[i] = fmt.Sprint(e)
		}
		return out, nil
	case map[string]any:
		return nil, fmt.Errorf("configuration: %s: a value or a list, not a mapping", flag.Name)
	case string:
		return v, nil
	default:
		// Numbers and booleans as YAML wrote them, parsed by the flag.
		return fmt.Sprint(v), nil
	}
}

// configCmd groups the configuration helpers.
type configCmd struct {
	Check configCheckCmd `cmd:"" help:"Validate a configuration file and print the effective settings of a command, secrets redacted."`
}

// configCheckCmd is `quicpush config check FILE`.
type configCheckCmd struct {
	File    string `arg:"" type:"existingfile" help:"The YAML configuration file."`
	Command string `name:"command" default:"serve" enum:"serve,api,core,edge" help:"The command whose settings to print: serve, api, core or edge."`

	out io.Writer
}

func (c *configCheckCmd) Run() error {
	out := c.out
	if out == nil {
		out = os.Stdout
	}
	var cli cli
	p, err := kong.New(&cli, options()...)
	if err != nil {
		return err
	}
	ctx, err := p.Parse([]string{c.Command, "--config", c.File})
	if err != nil {
		return err
	}
	return printEffective(out, ctx, c.File)
}

// printEffective writes the selected command's settings as a YAML
// configuration file, each with a comment saying where its value came from;
// secrets are redacted, so the output can be shared.
func printEffective(w io.Writer, ctx *kong.Context, file string) error {
	fromArgs := map[string]bool{}
	for _, p := range ctx.Path {
		if p.Flag != nil && !p.Resolved {
			fromArgs[p.Flag.Name] = true
		}
	}
	var inFile map[string]any
	if b, err := os.ReadFile(file); err == nil { //nolint:gosec // G304: the operator names the file to check
		_ = yaml.Unmarshal(b, &inFile)
	}
	doc := &yaml.Node{Kind: yaml.MappingNode,
		HeadComment: fmt.Sprintf("quicpush %s with %s (command line > QUICPUSH_* > file > default)", ctx.Command(), file)}
	flags := ctx.Flags()
	slices.SortFunc(flags, func(a, b *kong.Flag) int { return strings.Compare(a.Name, b.Name) })
	for _, f := range flags {
		if f.Hidden || f.Name == "help" || f.Name == "version" || f.Name == "config" {
			continue
		}
		source := "default"
		switch {
		case fromArgs[f.Name]:
			source = "command line"
		case envSet(f):
			source = "environment"
		case inFile[f.Name] != nil:
			source = "file"
		}
		v := f.Target.Interface()
		if secretFlags[f.Name] && !isEmpty(v) {
			v = "<redacted>"
		}
		if u, ok := v.(string); ok && (strings.HasSuffix(f.Name, "-url") || strings.HasSuffix(f.Name, "-endpoint")) {
			v = redactURL(u)
		}
		val := &yaml.Node{}
		if err := val.Encode(yamlValue(v)); err != nil {
			return err
		}
		if val.Kind == yaml.SequenceNode {
			val.Style = yaml.FlowStyle
		}
		val.LineComment = source
		doc.Content = append(doc.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: f.Name}, val)
	}
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return err
	}
	return enc.Close()
}

// yamlValue is v as the configuration file writes it: durations, levels
// and other named types by their text.
func yamlValue(v any) any {
	switch v := v.(type) {
	case string, bool, int, int64, float64, []string, kong.ConfigFlag:
		return v
	case fmt.Stringer:
		return v.String()
	}
	return v
}

// redactURL hides what a URL may carry as a credential: the password of its
// userinfo and its query (an API key in ?key=...).
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || (u.User == nil && u.RawQuery == "") {
		return raw
	}
	if u.RawQuery != "" {
		u.RawQuery = "redacted"
	}
	return u.Redacted()
}

func envSet(f *kong.Flag) bool {
	for _, env := range f.Envs {
		if _, ok := os.LookupEnv(env); ok {
			return true
		}
	}
	return false
}

func isEmpty(v any) bool {
	switch v := v.(type) {
	case string:
		return v == ""
	case []string:
		return len(v) == 0
	}
	return false
}

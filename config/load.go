package config

import (
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/knadh/koanf/parsers/yaml"
	"github.com/knadh/koanf/providers/file"
	"github.com/knadh/koanf/v2"
)

// EnvPrefix starts every environment variable that overrides a config key.
const EnvPrefix = "GATEHOUSE_"

// EnvConfig names the config file; it is not a key and Load ignores it.
const EnvConfig = "GATEHOUSE_CONFIG"

// Load builds the configuration: Default, then the YAML file at path (none
// when path is empty), then the GATEHOUSE_* overrides found in environ (in
// os.Environ form; nil means none). Decoding is strict: unknown keys, values
// of the wrong type and bad durations are errors. Missing claim mappings of
// each JWT issuer are filled with the defaults (user: sub, email: email,
// groups: groups). Load then calls Validate.
//
// A file that cannot be read or is not YAML gives a nil *Config and that
// error, which names the file ("bad.yaml: yaml: line 3: …"). Otherwise Load returns the config together with every problem found,
// as an errors.Join of *FieldError (see FieldErrors), so that a caller can
// print them all; the config must not be used when the error is non-nil.
// Load reads no file other than path (see CheckFiles) and keeps no state:
// it is safe for concurrent use, e.g. by a reload beside a running server.
func Load(path string, environ []string) (*Config, error) {
	var p koanf.Provider
	if path != "" {
		p = file.Provider(path)
	}
	return load(p, path, environ)
}

// load is Load with the file's provider and its name for messages; p nil
// means no file.
func load(p koanf.Provider, name string, environ []string) (*Config, error) {
	ko := koanf.New(".")
	if p != nil {
		if err := ko.Load(p, yamlParser(name)); err != nil {
			if errors.As(err, new(*syntaxError)) {
				return nil, err
			}
			return nil, fmt.Errorf("load config: %w", err) // an *fs.PathError names the file
		}
	}
	env, envProblems, _ := parseEnv(environ)
	if err := ko.Load(env, nil); err != nil {
		return nil, fmt.Errorf("load environment: %w", err)
	}
	c := Default()
	undecoded := decode(ko, &c)
	c.fillDefaults()
	all := append(envProblems, undecoded...)
	decoded := FieldErrors(undecoded.err())
	for _, fe := range FieldErrors(c.Validate()) {
		if !underAny(fe.Path, decoded) {
			all = append(all, fe)
		}
	}
	return &c, errors.Join(all...)
}

// yamlParser is koanf's YAML parser for the file it names: its errors say
// which file, where yaml's own say only the line ("yaml: line 3: …").
type yamlParser string

func (f yamlParser) Unmarshal(b []byte) (map[string]any, error) {
	m, err := yaml.Parser().Unmarshal(b)
	if err != nil {
		return nil, &syntaxError{file: string(f), err: err}
	}
	return m, nil
}

func (f yamlParser) Marshal(m map[string]any) ([]byte, error) { return yaml.Parser().Marshal(m) }

// syntaxError is a config file that is not YAML (or not a map of keys).
type syntaxError struct {
	file string
	err  error
}

func (e *syntaxError) Error() string { return e.file + ": " + e.err.Error() }
func (e *syntaxError) Unwrap() error { return e.err }

// underAny reports whether path is one of the paths of errs or below one:
// a key that failed to decode is not validated again.
func underAny(path string, errs []*FieldError) bool {
	for _, e := range errs {
		if rest, ok := strings.CutPrefix(path, e.Path); ok && e.Path != "" &&
			(rest == "" || rest[0] == '.' || rest[0] == '[') {
			return true
		}
	}
	return false
}

// fillDefaults completes what Default cannot: per-element defaults of lists.
func (c *Config) fillDefaults() {
	defaults := map[string]string{"user": "sub", "email": "email", "groups": "groups"}
	for i := range c.JWT.Issuers {
		is := &c.JWT.Issuers[i]
		if is.Claims == nil {
			is.Claims = map[string]string{}
		}
		for k, v := range defaults {
			if _, ok := is.Claims[k]; !ok {
				is.Claims[k] = v
			}
		}
	}
}

// decode unmarshals ko onto c strictly and returns the problems, sorted by
// key path.
func decode(ko *koanf.Koanf, c *Config) problems {
	dc := mapstructure.DecoderConfig{
		DecodeHook: mapstructure.ComposeDecodeHookFunc(
			durationHook,
			objectListHook,
			objectHook,
			commaListHook,
			mapstructure.TextUnmarshallerHookFunc(),
		),
		ErrorUnused:      true,
		WeaklyTypedInput: true,
		TagName:          "koanf",
		MatchName:        func(key, field string) bool { return key == field }, // keys are case-sensitive
	}
	err := ko.UnmarshalWithConf("", c, koanf.UnmarshalConf{DecoderConfig: &dc})
	p := decodeProblems(err)
	sort.SliceStable(p, func(i, j int) bool {
		return p[i].(*FieldError).Path < p[j].(*FieldError).Path
	})
	return p
}

// hookError is a problem found by a decode hook, already worded for users.
type hookError string

func (e hookError) Error() string { return string(e) }

var durationType = reflect.TypeFor[time.Duration]()

// durationHook parses Go duration strings and refuses bare numbers other
// than 0, which YAML users mean as seconds but would decode as nanoseconds.
func durationHook(from, to reflect.Type, data any) (any, error) {
	if to != durationType {
		return data, nil
	}
	switch v := data.(type) {
	case string:
		d, err := time.ParseDuration(strings.TrimSpace(v))
		if err != nil {
			return nil, hookError(fmt.Sprintf("%q is not a duration; write e.g. \"30s\", \"5m\"", v))
		}
		return d, nil
	case int, int64, uint64, float64:
		if reflect.ValueOf(v).IsZero() {
			return time.Duration(0), nil
		}
		return nil, hookError(fmt.Sprintf("%v has no unit; write e.g. \"%vs\" or \"%vm\"", v, v, v))
	}
	return data, nil
}

// objectListHook refuses anything but a list where a list of objects
// (routes, jwt.issuers) is expected, instead of weakly wrapping one value.
func objectListHook(from, to reflect.Type, data any) (any, error) {
	if to.Kind() != reflect.Slice || to.Elem().Kind() != reflect.Struct || data == nil {
		return data, nil
	}
	if k := from.Kind(); k == reflect.Slice || k == reflect.Array {
		return data, nil
	}
	return nil, hookError(fmt.Sprintf("got %s, want a list (one \"- \" entry per item)", valueWord(data)))
}

// objectHook refuses a scalar or list where a map of keys is expected.
func objectHook(from, to reflect.Type, data any) (any, error) {
	if to.Kind() != reflect.Struct || data == nil || from.Kind() == reflect.Map || from.Kind() == reflect.Struct {
		return data, nil
	}
	return nil, hookError(fmt.Sprintf("got %s, want a map of keys", valueWord(data)))
}

// commaListHook splits a string (as environment overrides give) into a
// list of strings at commas, trimming spaces; "" is the empty list.
func commaListHook(from, to reflect.Type, data any) (any, error) {
	if from.Kind() != reflect.String || to.Kind() != reflect.Slice || to.Elem().Kind() != reflect.String {
		return data, nil
	}
	s := strings.TrimSpace(data.(string))
	if s == "" {
		return []string{}, nil
	}
	parts := strings.Split(s, ",")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	return parts, nil
}

// decodeProblems turns mapstructure's errors into FieldErrors.
func decodeProblems(err error) problems {
	var p problems
	walkErrors(err, func(e error) bool {
		if de, ok := e.(*mapstructure.DecodeError); ok {
			if errors.As(de.Unwrap(), new(*mapstructure.DecodeError)) {
				return false // a wrapper of more specific errors
			}
			p = append(p, describeDecodeError(de)...)
			return true
		}
		if _, ok := e.(interface{ Unwrap() []error }); ok {
			return false
		}
		if errors.As(e, new(*mapstructure.DecodeError)) {
			return false
		}
		p = append(p, &FieldError{Problem: e.Error()})
		return true
	})
	return p
}

// describeDecodeError words one mapstructure error for users.
func describeDecodeError(de *mapstructure.DecodeError) []error {
	path := de.Name()
	if strings.HasPrefix(path, "config.") { // the root struct's type name
		path = ""
	}
	inner := de.Unwrap()
	var he hookError
	var pe *mapstructure.ParseError
	var ue *mapstructure.UnconvertibleTypeError
	switch {
	case errors.As(inner, &he):
		return []error{&FieldError{Path: path, Problem: string(he)}}
	case strings.HasPrefix(inner.Error(), "has invalid keys: "):
		var out []error
		for _, k := range strings.Split(strings.TrimPrefix(inner.Error(), "has invalid keys: "), ", ") {
			out = append(out, &FieldError{Path: joinPath(path, k), Problem: "unknown key"})
		}
		return out
	case errors.As(inner, &pe):
		return []error{&FieldError{Path: path, Problem: fmt.Sprintf("%q is not %s", fmt.Sprint(pe.Value), typeWord(pe.Expected.Type()))}}
	case errors.As(inner, &ue):
		return []error{&FieldError{Path: path, Problem: fmt.Sprintf("got %s, want %s", valueWord(ue.Value), typeWord(ue.Expected.Type()))}}
	}
	return []error{&FieldError{Path: path, Problem: inner.Error()}}
}

func joinPath(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + "." + key
}

// typeWord names a config value's type for users.
func typeWord(t reflect.Type) string {
	if t == durationType {
		return "a duration"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Int, reflect.Int64, reflect.Int32, reflect.Uint, reflect.Uint64:
		return "a whole number"
	case reflect.Slice:
		return "a list"
	case reflect.Map, reflect.Struct:
		return "a map of keys"
	}
	return "a " + t.String()
}

// valueWord names the type of a decoded YAML value.
func valueWord(v any) string {
	if v == nil {
		return "nothing"
	}
	t := reflect.TypeOf(v)
	switch t.Kind() {
	case reflect.Slice:
		return "a list"
	case reflect.Map:
		return "a map"
	case reflect.String:
		return "the string " + strconv.Quote(v.(string))
	}
	return fmt.Sprintf("%v", v)
}

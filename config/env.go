package config

import (
	"errors"
	"reflect"
	"sort"
	"strings"
)

// envProvider is a koanf.Provider of the overrides parsed from environ.
type envProvider map[string]any

func (e envProvider) Read() (map[string]any, error) { return e, nil }

func (e envProvider) ReadBytes() ([]byte, error) {
	return nil, errors.New("environment provider has no bytes")
}

// parseEnv turns the GATEHOUSE_* entries of environ into a nested map of
// overrides: GATEHOUSE_STORE__REDIS__DB=2 becomes store.redis.db: "2".
// Values stay strings; the decoder converts them (and splits lists at
// commas). Variables that name no key, or a key that cannot be set from
// the environment (lists of objects: routes, jwt.issuers), are problems and
// are left out of the map, except Kubernetes service links (see
// isServiceLink), which are left out and named in ignored.
func parseEnv(environ []string) (_ envProvider, _ problems, ignored []string) {
	out := envProvider{}
	var p problems
	sorted := append([]string(nil), environ...)
	sort.Strings(sorted)
	for _, kv := range sorted {
		name, value, ok := strings.Cut(kv, "=")
		if !ok || name == EnvConfig || !strings.HasPrefix(name, EnvPrefix) {
			continue
		}
		parts := strings.Split(strings.ToLower(strings.TrimPrefix(name, EnvPrefix)), "__")
		path := strings.Join(parts, ".")
		if problem := envKeyProblem(parts); problem != "" {
			if isServiceLink(name, value) {
				ignored = append(ignored, name)
				continue
			}
			p.add(path, "%s (from %s)", problem, name)
			continue
		}
		setPath(out, parts, value)
	}
	return out, p, ignored
}

// envKeyProblem walks the Config type along parts by koanf tags and says
// why the path cannot be set from the environment, or "" when it can.
func envKeyProblem(parts []string) string {
	t := reflect.TypeFor[Config]()
	for i, part := range parts {
		if part == "" {
			return "empty key segment; separate levels with exactly two underscores"
		}
		switch t.Kind() {
		case reflect.Struct:
			f, ok := fieldByTag(t, part)
			if !ok {
				return "unknown key"
			}
			t = f.Type
		case reflect.Map:
			t = t.Elem()
		case reflect.Slice:
			if t.Elem().Kind() == reflect.Struct {
				return strings.Join(parts[:i], ".") + " is a list of objects and cannot be set from the environment; set it in the config file"
			}
			return strings.Join(parts[:i], ".") + " is a list and takes comma-separated values; it has no sub-keys"
		default:
			return "unknown key"
		}
	}
	if t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Struct {
		return "a list of objects cannot be set from the environment; set it in the config file"
	}
	if t.Kind() == reflect.Struct || t.Kind() == reflect.Map {
		return "a map of keys cannot be set as a whole; set its keys, e.g. " + EnvPrefix + strings.ToUpper(strings.Join(parts, "__")) + "__<KEY>"
	}
	return ""
}

// fieldByTag finds the field of struct type t whose koanf tag is name.
func fieldByTag(t reflect.Type, name string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		if f := t.Field(i); f.Tag.Get("koanf") == name {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

// setPath sets m[parts[0]][parts[1]]... = value, creating maps on the way.
func setPath(m map[string]any, parts []string, value string) {
	for _, part := range parts[:len(parts)-1] {
		next, ok := m[part].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[part] = next
		}
		m = next
	}
	m[parts[len(parts)-1]] = value
}

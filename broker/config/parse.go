package config

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// Property is one key=value pair read from a properties file, with the line
// its logical line starts on (for error messages).
type Property struct {
	Key   string
	Value string
	Line  int
}

// ParsePropertiesFile reads a Kafka server.properties file.
func ParsePropertiesFile(path string) ([]Property, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	props, err := ParseProperties(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return props, nil
}

// ParseProperties reads the java.util.Properties text format, which is what
// Kafka's server.properties is:
//
//   - lines end with \n, \r or \r\n; blank lines and lines whose first
//     non-blank character is # or ! are skipped;
//   - a line ending in an odd number of backslashes continues on the next
//     line, whose leading blanks are dropped;
//   - the key ends at the first unescaped '=', ':' or blank; blanks and one
//     '=' or ':' after it are skipped (so "k=v", "k: v" and "k v" all work);
//   - \t \n \r \f and \uXXXX are escapes, and a backslash before any other
//     character stands for that character.
//
// Unlike Properties.load(InputStream), the input is read as UTF-8, not
// ISO-8859-1. Later duplicates are returned too; the caller lets them win.
func ParseProperties(r io.Reader) ([]Property, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("config: read properties: %w", err)
	}
	lines := splitNaturalLines(string(data))
	var out []Property
	for i := 0; i < len(lines); {
		lineNo := i + 1
		line := trimLeftBlank(lines[i])
		i++
		if line == "" || line[0] == '#' || line[0] == '!' {
			continue
		}
		for continues(line) {
			line = line[:len(line)-1]
			if i >= len(lines) {
				break
			}
			line += trimLeftBlank(lines[i])
			i++
		}
		k, v := splitKeyValue(line)
		key, err := unescape(k)
		if err != nil {
			return nil, fmt.Errorf("config: line %d: %w", lineNo, err)
		}
		val, err := unescape(v)
		if err != nil {
			return nil, fmt.Errorf("config: line %d: %w", lineNo, err)
		}
		out = append(out, Property{Key: key, Value: val, Line: lineNo})
	}
	return out, nil
}

func splitNaturalLines(s string) []string {
	var lines []string
	start := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\n':
			lines = append(lines, s[start:i])
			start = i + 1
		case '\r':
			lines = append(lines, s[start:i])
			if i+1 < len(s) && s[i+1] == '\n' {
				i++
			}
			start = i + 1
		}
	}
	if start < len(s) {
		lines = append(lines, s[start:])
	}
	return lines
}

func isBlank(c byte) bool { return c == ' ' || c == '\t' || c == '\f' }

func trimLeftBlank(s string) string {
	i := 0
	for i < len(s) && isBlank(s[i]) {
		i++
	}
	return s[i:]
}

// continues reports whether line ends in an odd number of backslashes.
func continues(line string) bool {
	n := 0
	for i := len(line) - 1; i >= 0 && line[i] == '\\'; i-- {
		n++
	}
	return n%2 == 1
}

// splitKeyValue splits a logical line (leading blanks already gone) into its
// still-escaped key and value.
func splitKeyValue(line string) (key, value string) {
	end := len(line)
	for i := 0; i < len(line); i++ {
		c := line[i]
		if c == '\\' {
			i++ // the escaped character never ends the key
			continue
		}
		if c == '=' || c == ':' || isBlank(c) {
			end = i
			break
		}
	}
	key = line[:end]
	rest := line[end:]
	rest = trimLeftBlank(rest)
	if rest != "" && (rest[0] == '=' || rest[0] == ':') {
		rest = trimLeftBlank(rest[1:])
	}
	return key, rest
}

func unescape(s string) (string, error) {
	if !strings.Contains(s, `\`) {
		return s, nil
	}
	var units []rune // runes, with \u escapes kept as UTF-16 units to pair
	for i := 0; i < len(s); {
		c := s[i]
		if c != '\\' {
			r, size := decodeRune(s[i:])
			units = append(units, r)
			i += size
			continue
		}
		i++
		if i >= len(s) {
			break // a lone trailing backslash (continuation at end of input)
		}
		switch c = s[i]; c {
		case 't':
			units = append(units, '\t')
		case 'n':
			units = append(units, '\n')
		case 'r':
			units = append(units, '\r')
		case 'f':
			units = append(units, '\f')
		case 'u':
			if i+5 > len(s) {
				return "", fmt.Errorf("malformed \\uxxxx encoding")
			}
			n, err := strconv.ParseUint(s[i+1:i+5], 16, 16)
			if err != nil {
				return "", fmt.Errorf("malformed \\uxxxx encoding")
			}
			units = append(units, rune(n))
			i += 4
		default:
			r, size := decodeRune(s[i:])
			units = append(units, r)
			i += size - 1
		}
		i++
	}
	// Join surrogate pairs written as two \u escapes.
	var b strings.Builder
	for j := 0; j < len(units); j++ {
		if utf16.IsSurrogate(units[j]) && j+1 < len(units) {
			if r := utf16.DecodeRune(units[j], units[j+1]); r != '\uFFFD' {
				b.WriteRune(r)
				j++
				continue
			}
		}
		b.WriteRune(units[j])
	}
	return b.String(), nil
}

func decodeRune(s string) (rune, int) { return utf8.DecodeRuneInString(s) }

// EnvProperty is one environment variable mapped to a property.
type EnvProperty struct {
	Var   string // KAFKA_AUTO_CREATE_TOPICS_ENABLE
	Key   string // auto.create.topics.enable
	Value string
}

// envNotProperties are KAFKA_* variables the Kafka and Confluent images (and
// Kafka's own scripts) use for the JVM, logging and the image itself, never
// as broker properties.
var envNotProperties = map[string]bool{
	"KAFKA_HEAP_OPTS":               true,
	"KAFKA_OPTS":                    true,
	"KAFKA_JVM_PERFORMANCE_OPTS":    true,
	"KAFKA_LOG4J_OPTS":              true,
	"KAFKA_JMX_OPTS":                true,
	"KAFKA_GC_LOG_OPTS":             true,
	"KAFKA_DEBUG":                   true,
	"KAFKA_VERSION":                 true,
	"KAFKA_HOME":                    true,
	"KAFKA_LOG4J_ROOT_LOGLEVEL":     true,
	"KAFKA_LOG4J_LOGGERS":           true,
	"KAFKA_TOOLS_LOG4J_LOGLEVEL":    true,
	"KAFKA_JMX_HOSTNAME":            true,
	"KAFKA_JMX_PORT":                true,
	"KAFKA_CLUSTER_ID":              true,
	"KAFKA_KRAFT_CLUSTER_ID":        true,
	"KAFKA_ENABLE_KRAFT":            true,
	"KAFKA_CREATE_TOPICS":           true,
	"KAFKA_JAAS_CONF":               true,
	"KAFKA_CLASSPATH":               true,
	"KAFKA_MX_OPTS":                 true,
	"KAFKA_DEBUG_SUSPEND_FLAG":      true,
	"KAFKA_DEBUG_PORT":              true,
	"KAFKA_TLS_TYPE":                true,
	"KAFKA_CLIENT_USERS":            true,
	"KAFKA_CLIENT_PASSWORDS":        true,
	"KAFKA_CERTIFICATE_PASSWORD":    true,
	"KAFKA_SKIP_KRAFT_STORAGE_INIT": true,
	// Paths and settings of the images' start scripts.
	"KAFKA_PATH":                      true,
	"KAFKA_CONF_FILE":                 true,
	"KAFKA_CONF_DIR":                  true,
	"KAFKA_MOUNTED_CONF_DIR":          true,
	"KAFKA_BASE_DIR":                  true,
	"KAFKA_VOLUME_DIR":                true,
	"KAFKA_DATA_DIR":                  true,
	"KAFKA_NODE_ID_FILE":              true,
	"KAFKA_ZOOKEEPER_PASSWORD":        true,
	"KAFKA_INTER_BROKER_USER":         true,
	"KAFKA_INTER_BROKER_PASSWORD":     true,
	"KAFKA_CONTROLLER_USER":           true,
	"KAFKA_CONTROLLER_PASSWORD":       true,
	"KAFKA_CERTIFICATE_PASSWORD_FILE": true,
	"KAFKA_OPTS_EXTRA":                true,
	"KAFKA_SERVICE_NAME":              true,
}

// EnvKey maps a KAFKA_* environment variable name to a property name the way
// the Confluent and Apache images do: drop the prefix (KAFKA_, or bitnami's
// KAFKA_CFG_), lower-case, then "___" -> "-", "__" -> "_", "_" -> ".".
// ok is false for names without the prefix and for the images' own
// variables (KAFKA_HEAP_OPTS, KAFKA_OPTS, ...).
func EnvKey(name string) (key string, ok bool) {
	if envNotProperties[name] {
		return "", false
	}
	rest, found := strings.CutPrefix(name, "KAFKA_CFG_")
	if !found {
		rest, found = strings.CutPrefix(name, "KAFKA_")
	}
	if !found || rest == "" {
		return "", false
	}
	rest = strings.ToLower(rest)
	var b strings.Builder
	for i := 0; i < len(rest); {
		if rest[i] != '_' {
			b.WriteByte(rest[i])
			i++
			continue
		}
		n := 0
		for i+n < len(rest) && rest[i+n] == '_' {
			n++
		}
		i += n
		// Runs longer than three: greedy, as the images' chained
		// replace("___") / replace("__") / replace("_") do.
		for ; n >= 3; n -= 3 {
			b.WriteByte('-')
		}
		switch n {
		case 2:
			b.WriteByte('_')
		case 1:
			b.WriteByte('.')
		}
	}
	return b.String(), true
}

// PropertiesFromEnv maps the KAFKA_* variables of environ (os.Environ()
// form) to properties, sorted by variable name with KAFKA_CFG_ variables
// last so that they win over their KAFKA_ twins. skipped lists the KAFKA_*
// variables that are not properties.
func PropertiesFromEnv(environ []string) (props []EnvProperty, skipped []string) {
	for _, kv := range environ {
		name, value, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(name, "KAFKA_") {
			continue
		}
		key, ok := EnvKey(name)
		if !ok {
			skipped = append(skipped, name)
			continue
		}
		props = append(props, EnvProperty{Var: name, Key: key, Value: value})
	}
	sort.Slice(props, func(i, j int) bool {
		ci, cj := strings.HasPrefix(props[i].Var, "KAFKA_CFG_"), strings.HasPrefix(props[j].Var, "KAFKA_CFG_")
		if ci != cj {
			return cj
		}
		return props[i].Var < props[j].Var
	})
	sort.Strings(skipped)
	return props, skipped
}

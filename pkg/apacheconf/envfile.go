package apacheconf

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"
)

// Env is the environment httpd is started with: the variables a shell
// would hold after sourcing the environment files, and which of them it
// exports (only those reach httpd and its ${VAR} expansion).
type Env struct {
	vars     map[string]string
	exported map[string]bool
	// Skipped lists, as "file:line: text", the lines of environment files
	// that were not applied because they are not plain assignments.
	Skipped []string
}

// NewEnv starts from an os.Environ()-style list, all exported.
func NewEnv(environ []string) *Env {
	e := &Env{vars: map[string]string{}, exported: map[string]bool{}}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && k != "" {
			e.vars[k], e.exported[k] = v, true
		}
	}
	return e
}

// Lookup returns an exported variable, as httpd's getenv would see it.
func (e *Env) Lookup(name string) (string, bool) {
	if !e.exported[name] {
		return "", false
	}
	v, ok := e.vars[name]
	return v, ok
}

// Environ returns the exported variables in os.Environ() form, sorted.
func (e *Env) Environ() []string {
	var out []string
	for k, v := range e.vars {
		if e.exported[k] {
			out = append(out, k+"="+v)
		}
	}
	slices.Sort(out)
	return out
}

// LoadEnvFile applies the environment file at path, as
// `. path` in a shell would for the subset of shell this reader
// understands. A file that does not exist is not an error (the reference
// agent skips it too); one that cannot be read is.
//
// Understood, one per line or several per line: NAME=value,
// export NAME=value, export NAME, unset NAME, with values unquoted,
// in single quotes or in double quotes, and $NAME / ${NAME} expanded
// outside single quotes; comments and blank lines.
//
// Not understood, and skipped (the line is recorded in Skipped): any
// command (ulimit, umask, ". file", source), command substitution ($(…)
// and backquotes), parameter operators (${NAME:-default}, ${NAME##pat},
// …), arithmetic, and whole if/case/while/for/until blocks and function
// definitions, whose lines are not applied at all. Debian's stock envvars
// uses an if block only to derive SUFFIX from APACHE_CONFDIR for
// /etc/apache2-NAME instances; it is empty for /etc/apache2, which is
// what skipping the block gives. A multi-instance setup sets SUFFIX with
// a plain assignment in its own envvars.
func (e *Env) LoadEnvFile(path string) error {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read environment file: %w", err)
	}
	defer f.Close()
	if err := e.load(path, f); err != nil {
		return fmt.Errorf("read environment file %s: %w", path, err)
	}
	return nil
}

func (e *Env) load(name string, r io.Reader) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	depth := 0 // nesting of compound commands being skipped
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		skip := func() { e.Skipped = append(e.Skipped, fmt.Sprintf("%s:%d: %s", name, n, line)) }
		first := firstWord(line)
		switch {
		case opensBlock(first, line):
			depth++
			skip()
			continue
		case depth > 0:
			if closesBlock(first) {
				depth--
			}
			skip()
			continue
		}
		words, ok := shellWords(line, e)
		if !ok {
			skip()
			continue
		}
		if !e.apply(words) {
			skip()
		}
	}
	return sc.Err()
}

// firstWord is the line's first white-space separated word.
func firstWord(line string) string {
	if i := strings.IndexAny(line, " \t;"); i >= 0 {
		return line[:i]
	}
	return line
}

// opensBlock reports whether a line starts a compound command or a
// function definition that is not closed on the same line.
func opensBlock(first, line string) bool {
	switch first {
	case "if", "case", "while", "until", "for", "{":
	default:
		// name() { …  opens a function body; "name()" alone is
		// followed by a line "{", which opens it then.
		rest := strings.TrimSpace(strings.TrimPrefix(line, first))
		isFunc := (strings.HasSuffix(first, "()") && validName(strings.TrimSuffix(first, "()"))) ||
			(validName(first) && strings.HasPrefix(rest, "()"))
		if !isFunc || !strings.Contains(line, "{") {
			return false
		}
	}
	end := map[string]string{"if": "fi", "case": "esac", "while": "done", "until": "done", "for": "done"}[first]
	if end == "" {
		end = "}"
	}
	for _, w := range strings.FieldsFunc(line, func(r rune) bool { return r == ' ' || r == '\t' || r == ';' }) {
		if w == end {
			return false
		}
	}
	return true
}

func closesBlock(first string) bool {
	switch first {
	case "fi", "esac", "done", "}":
		return true
	}
	return false
}

// word is one shell word after quote removal and expansion.
type word struct {
	text   string
	assign bool // NAME=… with the name unquoted
	name   string
	value  string
}

// apply runs one simple command made only of assignments, export or
// unset. It reports false for anything else, which is then skipped.
func (e *Env) apply(words []word) bool {
	if len(words) == 0 {
		return true
	}
	switch words[0].text {
	case "export":
		for _, w := range words[1:] {
			switch {
			case w.assign:
				e.vars[w.name], e.exported[w.name] = w.value, true
			case validName(w.text):
				e.exported[w.text] = true
				if _, ok := e.vars[w.text]; !ok {
					// export of an unset name marks it; it is
					// exported once assigned.
					continue
				}
			default:
				return false
			}
		}
		return true
	case "unset":
		for _, w := range words[1:] {
			if !validName(w.text) {
				return false
			}
			delete(e.vars, w.text)
			delete(e.exported, w.text)
		}
		return true
	}
	for _, w := range words {
		if !w.assign {
			return false
		}
	}
	for _, w := range words {
		e.vars[w.name] = w.value
	}
	return true
}

func validName(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		if c != '_' && !(c >= 'A' && c <= 'Z') && !(c >= 'a' && c <= 'z') && !(i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// shellWords splits a line into words with quote removal and $NAME
// expansion. It reports false for syntax this reader does not handle.
func shellWords(line string, e *Env) ([]word, bool) {
	var words []word
	i := 0
	for {
		for i < len(line) && (line[i] == ' ' || line[i] == '\t') {
			i++
		}
		if i >= len(line) || line[i] == '#' {
			return words, true
		}
		if line[i] == ';' {
			// "a=1; b=2": the rest is another simple command of the
			// same kind; treat the separator as a word break.
			i++
			continue
		}
		var b strings.Builder
		w := word{}
		// An unquoted NAME= prefix makes this an assignment.
		if j := strings.IndexByte(line[i:], '='); j > 0 && validName(line[i:i+j]) {
			w.assign, w.name = true, line[i:i+j]
			i += j + 1
		}
		for i < len(line) && line[i] != ' ' && line[i] != '\t' && line[i] != ';' {
			c := line[i]
			switch c {
			case '\'':
				end := strings.IndexByte(line[i+1:], '\'')
				if end < 0 {
					return nil, false
				}
				b.WriteString(line[i+1 : i+1+end])
				i += end + 2
			case '"':
				i++
				for i < len(line) && line[i] != '"' {
					switch line[i] {
					case '\\':
						if i+1 < len(line) && strings.IndexByte("$`\"\\", line[i+1]) >= 0 {
							b.WriteByte(line[i+1])
							i += 2
							continue
						}
						b.WriteByte('\\')
						i++
					case '$':
						v, n, ok := expandDollar(line[i:], e)
						if !ok {
							return nil, false
						}
						b.WriteString(v)
						i += n
					case '`':
						return nil, false
					default:
						b.WriteByte(line[i])
						i++
					}
				}
				if i >= len(line) {
					return nil, false
				}
				i++
			case '\\':
				if i+1 >= len(line) {
					return nil, false // line continuation
				}
				b.WriteByte(line[i+1])
				i += 2
			case '$':
				v, n, ok := expandDollar(line[i:], e)
				if !ok {
					return nil, false
				}
				b.WriteString(v)
				i += n
			case '`', '(', ')', '<', '>', '|', '&', '*', '?', '[':
				return nil, false
			default:
				b.WriteByte(c)
				i++
			}
		}
		if w.assign {
			w.value = b.String()
			w.text = w.name + "=" + w.value
		} else {
			w.text = b.String()
		}
		words = append(words, w)
	}
}

// expandDollar expands $NAME or ${NAME} at the start of s (unset names
// expand to nothing, as in a shell). It returns the value and how many
// bytes it consumed; false for $(…), $((…)) and ${NAME<operator>…}.
func expandDollar(s string, e *Env) (string, int, bool) {
	if len(s) < 2 {
		return "$", 1, true
	}
	if s[1] == '{' {
		end := strings.IndexByte(s, '}')
		if end < 0 || !validName(s[2:end]) {
			return "", 0, false
		}
		return e.vars[s[2:end]], end + 1, true
	}
	j := 1
	for j < len(s) && validName(s[1:j+1]) {
		j++
	}
	if j == 1 {
		if s[1] == '(' {
			return "", 0, false
		}
		return "$", 1, true
	}
	return e.vars[s[1:j]], j, true
}

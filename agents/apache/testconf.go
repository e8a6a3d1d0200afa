package apache

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// errNoTest is a testconffile without the test asked for.
var errNoTest = errors.New("there is no test")

// webTest is one "test NAME … end" block of a testconffile (the format of
// resource-agents' README.webapps).
type webTest struct {
	name, url, user, password, client, clientOpts, match string
}

// readTestConf reads the test named name from a testconffile, or the
// first test when name is empty. Lines are read as the shell's `read key
// value` reads them (white space trimmed, backslash escapes removed, a
// trailing backslash continues the line), so files written for the
// reference agent mean the same.
func readTestConf(path, name string) (webTest, error) {
	f, err := os.Open(path)
	if err != nil {
		return webTest{}, err
	}
	defer f.Close()
	return parseTestConf(f, path, name)
}

func parseTestConf(r io.Reader, path, name string) (webTest, error) {
	sc := bufio.NewScanner(r)
	var t webTest
	inside, found := false, false
	n := 0
	for {
		key, value, lines, ok := readLine(sc)
		if !ok {
			break
		}
		n += lines
		if !inside {
			if key == "test" && (name == "" || value == name) {
				inside, found, t.name = true, true, value
			}
			continue
		}
		switch key {
		case "url":
			t.url = value
		case "user":
			t.user = value
		case "password":
			t.password = value
		case "client":
			t.client = value
		case "client_opts":
			t.clientOpts = value
		case "match":
			t.match = value
		case "end":
			return t, t.check(path)
		case "":
		default:
			if strings.HasPrefix(key, "#") {
				continue
			}
			return t, fmt.Errorf("%s line %d: unknown keyword %q in test %q", path, n, key, t.name)
		}
	}
	if err := sc.Err(); err != nil {
		return t, fmt.Errorf("read %s: %w", path, err)
	}
	if !found {
		if name == "" {
			return t, fmt.Errorf("%w block in %s", errNoTest, path)
		}
		return t, fmt.Errorf("%w %q in %s", errNoTest, name, path)
	}
	return t, t.check(path)
}

// check is the reference's is_testconf_sane.
func (t webTest) check(path string) error {
	switch {
	case t.url == "" || t.match == "":
		return fmt.Errorf("test %q in %s needs both url and match", t.name, path)
	case (t.user == "") != (t.password == ""):
		return fmt.Errorf("test %q in %s has a user without a password or a password without a user", t.name, path)
	}
	if _, err := compileRegex(t.match); err != nil {
		return fmt.Errorf("test %q in %s: match %q: %v", t.name, path, t.match, err)
	}
	return nil
}

// readLine reads one logical line as `read key value` does. It returns
// how many physical lines it used.
func readLine(sc *bufio.Scanner) (key, value string, lines int, ok bool) {
	var raw strings.Builder
	for sc.Scan() {
		lines++
		line := sc.Text()
		if unescapedTrailingBackslash(line) {
			raw.WriteString(line[:len(line)-1])
			continue
		}
		raw.WriteString(line)
		ok = true
		break
	}
	if !ok && lines == 0 {
		return "", "", 0, false
	}
	s := strings.TrimLeft(raw.String(), " \t")
	var k strings.Builder
	i := 0
	for i < len(s) && s[i] != ' ' && s[i] != '\t' {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		k.WriteByte(s[i])
		i++
	}
	rest := strings.TrimLeft(s[i:], " \t")
	var v strings.Builder
	trailing := 0 // unescaped white space at the end, which read drops
	for j := 0; j < len(rest); j++ {
		c := rest[j]
		if c == '\\' && j+1 < len(rest) {
			j++
			v.WriteByte(rest[j])
			trailing = 0
			continue
		}
		v.WriteByte(c)
		if c == ' ' || c == '\t' {
			trailing++
		} else {
			trailing = 0
		}
	}
	value = v.String()
	return k.String(), value[:len(value)-trailing], lines, true
}

func unescapedTrailingBackslash(s string) bool {
	n := 0
	for i := len(s) - 1; i >= 0 && s[i] == '\\'; i-- {
		n++
	}
	return n%2 == 1
}

package apache

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// compileRegex compiles a pattern as the reference's `grep -Ei` reads it:
// extended syntax, case-insensitive. GNU grep's word boundaries \< and \>
// become \b; back-references, which RE2 does not have, are refused.
func compileRegex(expr string) (*regexp.Regexp, error) {
	expr = strings.NewReplacer(`\<`, `\b`, `\>`, `\b`).Replace(expr)
	re, err := regexp.Compile("(?i)" + expr)
	if err != nil {
		return nil, fmt.Errorf("not a regular expression: %w", errors.Unwrap(err))
	}
	return re, nil
}

// matchLines reports whether any line of body matches re, as grep does.
func matchLines(re *regexp.Regexp, body []byte) bool {
	for _, line := range bytes.Split(body, []byte("\n")) {
		if re.Match(line) {
			return true
		}
	}
	return false
}

// maxBody bounds what a check reads of an answer.
const maxBody = 16 << 20

// checkError is a failed check of a URL.
type checkError struct {
	msg string
	// answered: the server sent an HTTP answer, so the failure is what it
	// said, not whether it is up. During start that is final.
	answered bool
	// timedOut: the server did not answer in time (it may hang).
	timedOut bool
}

func (e *checkError) Error() string { return e.msg }

// httpClient is the monitor's HTTP client. It connects from the loopback
// address of the server's address family, as the reference binds curl
// and wget to the local interface (so that "Require local" admits it and
// a URL on another host fails), never uses a proxy, accepts any
// certificate (it checks that the local server answers; a self-signed or
// expired certificate must not make the cluster restart the server),
// speaks HTTP/1.1 and follows redirects as curl -L and wget do.
func httpClient(ipv6 bool) *http.Client {
	dial := func(ctx context.Context, _, addr string) (net.Conn, error) {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		network, local := "tcp4", net.IPv4(127, 0, 0, 1)
		if ip := net.ParseIP(host); (ip != nil && ip.To4() == nil) || (ip == nil && ipv6) {
			network, local = "tcp6", net.IPv6loopback
		}
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: local}}
		return d.DialContext(ctx, network, addr)
	}
	return &http.Client{Transport: &http.Transport{
		Proxy:             nil,
		DialContext:       dial,
		TLSClientConfig:   &tls.Config{InsecureSkipVerify: true},
		TLSNextProto:      map[string]func(string, *tls.Conn) http.RoundTripper{},
		DisableKeepAlives: true,
	}}
}

// requestContext gives one request until a little before ctx's deadline
// (and at most limit when that is not 0), so that a server that accepts
// connections but never answers fails the check with its own reason
// before the action runs out of time.
func requestContext(ctx context.Context, limit time.Duration) (context.Context, context.CancelFunc, time.Duration) {
	d := 10 * time.Second
	if deadline, ok := ctx.Deadline(); ok {
		left := time.Until(deadline)
		d = left - min(left/10, time.Second)
	}
	if limit > 0 && d > limit {
		d = limit
	}
	rctx, cancel := context.WithTimeout(ctx, d)
	return rctx, cancel, d
}

// request is one check of a URL: its answer must have a line matching re
// (a HEAD request, re nil, passes with any answer).
type request struct {
	url            *url.URL
	re             *regexp.Regexp
	regexName      string // the parameter re comes from, for the reason
	user, password string
	ipv6           bool
	limit          time.Duration // 0: until just before the deadline
}

func (q request) do(ctx context.Context) error {
	rctx, cancel, budget := requestContext(ctx, q.limit)
	defer cancel()
	method := http.MethodGet
	if q.re == nil {
		method = http.MethodHead
	}
	req, err := http.NewRequestWithContext(rctx, method, q.url.String(), nil)
	if err != nil {
		return &checkError{msg: fmt.Sprintf("%s: %v", q.url, err)}
	}
	if q.user != "" {
		req.SetBasicAuth(q.user, q.password)
	}
	resp, err := httpClient(q.ipv6).Do(req)
	if err != nil {
		return q.failed(rctx, budget, err, false)
	}
	defer resp.Body.Close()
	if q.re == nil {
		return nil
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if matchLines(q.re, body) {
		return nil
	}
	if err != nil {
		return q.failed(rctx, budget, err, true)
	}
	return &checkError{answered: true,
		msg: fmt.Sprintf("%s answered %q but no line matches %s %q", q.url, resp.Status, q.regexName, strings.TrimPrefix(q.re.String(), "(?i)"))}
}

func (q request) failed(rctx context.Context, budget time.Duration, err error, answered bool) error {
	var ne net.Error
	if errors.Is(rctx.Err(), context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return &checkError{timedOut: true, answered: answered,
			msg: fmt.Sprintf("%s did not answer within %s", q.url, budget.Round(time.Millisecond))}
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return &checkError{answered: answered, msg: fmt.Sprintf("%s: %v", q.url, err)}
}

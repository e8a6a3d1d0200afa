// Package apacheconf reads an Apache httpd configuration the way httpd
// reads it, as far as a cluster agent needs: which pid file httpd writes,
// where it listens (and with TLS or not), where its server-status page is,
// and which environment it is started with.
//
// Understood, as httpd does: Include and IncludeOptional (wildcards in
// any path component, directories read recursively in name order, paths
// relative to ServerRoot, missing targets an error only for Include),
// ServerRoot, Define/UnDefine and ${VAR} from Define and the environment
// (see Env and LoadEnvFile for Debian's envvars), LoadModule, <IfModule>,
// <IfDefine>, <IfFile>, <IfVersion> (against Options.Version), Listen,
// PidFile, DefaultRuntimeDir, ErrorLog, <VirtualHost>, SSLEngine and
// <Location> with SetHandler server-status.
//
// Not understood: <If>/<ElseIf>/<Else> (evaluated per request; their
// contents are ignored), <Macro> bodies and Use (mod_macro), <IfDirective>
// and <IfSection> (taken as true), <LocationMatch> (a regular expression
// is not a URL), SetHandler outside <Location>, and directives given on
// httpd's command line with -C or -c.
package apacheconf

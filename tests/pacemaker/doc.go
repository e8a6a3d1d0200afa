// Package pacemaker drives the ocfbox agents through Pacemaker's own
// command-line tools, without a running cluster: crm_resource lists them,
// shows their meta-data, validates parameters (with the exit reason in its
// XML output), and runs start, monitor, promote, demote and stop of
// resources defined in a CIB file (CIB_file), whose promotion scores the
// real crm_attribute writes into that file. The agents are installed as
// provider ocfbox under /usr/lib/ocf/resource.d, the path Pacemaker has
// compiled in, for the duration of each test.
package pacemaker

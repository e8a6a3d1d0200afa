package main

import (
	"flag"
	"fmt"
	"os"
	"time"
)

// ioprobe measures how long file-system operations block (an OCFS2
// node's I/O while the cluster recovers from a dead node). Each round
// reads the file -read (another node's), appends a line to -write and
// fsyncs it, and lists -dir; it prints "start_ns end_ns error" per round.
// It ends after -for, or once a round took longer than -blocked and
// -after fast rounds followed it.
func ioprobe(args []string) int {
	fs := flag.NewFlagSet("ioprobe", flag.ContinueOnError)
	dir := fs.String("dir", "", "directory to list")
	read := fs.String("read", "", "file to read each round")
	write := fs.String("write", "", "file to append to each round")
	total := fs.Duration("for", time.Minute, "longest run")
	every := fs.Duration("every", 50*time.Millisecond, "pause between rounds")
	blocked := fs.Duration("blocked", time.Second, "a round this long counts as blocked")
	after := fs.Int("after", 5, "fast rounds after a blocked one before ending (0: never)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	end := time.Now().Add(*total)
	sawBlock, fast := false, 0
	for time.Now().Before(end) {
		t0 := time.Now()
		err := round(*dir, *read, *write, t0)
		t1 := time.Now()
		msg := "-"
		if err != nil {
			msg = fmt.Sprintf("%q", err.Error())
		}
		fmt.Printf("%d %d %s\n", t0.UnixNano(), t1.UnixNano(), msg)
		if t1.Sub(t0) >= *blocked {
			sawBlock, fast = true, 0
		} else if sawBlock {
			fast++
			if *after > 0 && fast >= *after {
				return 0
			}
		}
		time.Sleep(*every)
	}
	return 0
}

func round(dir, read, write string, now time.Time) error {
	if read != "" {
		if _, err := os.ReadFile(read); err != nil && !os.IsNotExist(err) {
			return err
		}
	}
	if write != "" {
		f, err := os.OpenFile(write, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			return err
		}
		fmt.Fprintf(f, "%d\n", now.UnixNano())
		err = f.Sync()
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	}
	if dir != "" {
		if _, err := os.ReadDir(dir); err != nil {
			return err
		}
	}
	return nil
}

package umlcluster

import (
	"fmt"
	"slices"
	"time"
)

// Summary is "median X ms (min–max, n=N)" of durations, the form the
// lab's tests print their figures in.
func Summary(ds []time.Duration) string {
	if len(ds) == 0 {
		return "no samples"
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	med := s[len(s)/2]
	if len(s)%2 == 0 {
		med = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return fmt.Sprintf("median %.1f ms (%.1f–%.1f, n=%d)", ms(med), ms(s[0]), ms(s[len(s)-1]), len(s))
}

// Package measure is what the benchmarks share: order statistics of
// samples, the programs one invocation executes as `strace -f` records
// them, and its peak resident set size as GNU time reports it. It prints
// nothing and decides nothing: tests/bench (`make bench`) builds its
// report from it.
package measure

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Percentile is the nearest-rank percentile (p from 0 to 1) of sorted
// values; the zero value for none.
func Percentile[T cmp.Ordered](sorted []T, p float64) T {
	var zero T
	if len(sorted) == 0 {
		return zero
	}
	rank := int(float64(len(sorted))*p + 0.999999)
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}

// Median is the nearest-rank median of values in any order.
func Median[T cmp.Ordered](values []T) T {
	return Percentile(slices.Sorted(slices.Values(values)), 0.5)
}

// ProgramList names programs in the order they first ran, with a count
// for those that ran more than once: "Stateful, basename, cat ×2".
func ProgramList(names []string) string {
	counts := map[string]int{}
	var order []string
	for _, n := range names {
		if counts[n] == 0 {
			order = append(order, n)
		}
		counts[n]++
	}
	parts := make([]string, len(order))
	for i, n := range order {
		parts[i] = n
		if counts[n] > 1 {
			parts[i] += fmt.Sprintf(" ×%d", counts[n])
		}
	}
	return strings.Join(parts, ", ")
}

package uml

import "testing"

// The reference agents' scenarios: the lab's proof and the baseline the
// ocfbox agents are compared with (RunDRBDExt4(t, OCFBox) runs theirs).

func TestReferenceDRBDExt4PowerCut(t *testing.T) { RunDRBDExt4(t, Reference) }

func TestReferenceOCFS2PowerCut(t *testing.T) { RunOCFS2(t, Reference) }

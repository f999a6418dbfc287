package automod

import (
	"regexp/syntax"
	"sync"
	"unicode/utf8"
)

// wordVM runs a compiled regexp/syntax program the way Go's own NFA does (a Pike VM: one
// pass over the text, threads in priority order, leftmost-first), with one difference: the
// word-boundary assertions \b and \B are decided with Rust's Unicode word characters
// (isWordChar) instead of Go's ASCII ones. That is the only way to give Discord's \b its
// meaning in Go: RE2 syntax has no Unicode word boundary, and approximating it with a class
// would consume a character and change what matches. Time stays linear in the text times
// the program size.
//
// It is used only for regexes with \b or \B, after Go's regexp has run the same regex with
// those assertions removed and found a match (a regex without them matches everything the
// original matches, so most messages are ruled out by the fast engine).
type wordVM struct {
	prog *syntax.Prog
	pool sync.Pool // *vmMachine, so that concurrent searches do not share queues
}

func newWordVM(prog *syntax.Prog) *wordVM {
	vm := &wordVM{prog: prog}
	vm.pool.New = func() any {
		n := len(prog.Inst)
		return &vmMachine{
			q0: vmQueue{sparse: make([]uint32, n), dense: make([]vmThread, 0, n)},
			q1: vmQueue{sparse: make([]uint32, n), dense: make([]vmThread, 0, n)},
		}
	}
	return vm
}

type vmThread struct {
	pc    uint32
	start int // where the match this thread is building began
	live  bool
}

// vmQueue is a sparse set of program counters in insertion (priority) order.
type vmQueue struct {
	sparse []uint32
	dense  []vmThread
}

func (q *vmQueue) contains(pc uint32) bool {
	i := q.sparse[pc]
	return int(i) < len(q.dense) && q.dense[i].pc == pc
}

func (q *vmQueue) clear() { q.dense = q.dense[:0] }

type vmMachine struct {
	q0, q1 vmQueue
}

// emptyContext is the set of zero-width assertions that hold between r1 and r2 (-1 outside
// the text), with Unicode word characters.
func emptyContext(r1, r2 rune) syntax.EmptyOp {
	var op syntax.EmptyOp
	if r1 < 0 {
		op |= syntax.EmptyBeginText | syntax.EmptyBeginLine
	} else if r1 == '\n' {
		op |= syntax.EmptyBeginLine
	}
	if r2 < 0 {
		op |= syntax.EmptyEndText | syntax.EmptyEndLine
	} else if r2 == '\n' {
		op |= syntax.EmptyEndLine
	}
	if isWordChar(r1) != isWordChar(r2) {
		op |= syntax.EmptyWordBoundary
	} else {
		op |= syntax.EmptyNoWordBoundary
	}
	return op
}

func runeAt(s string, i int) (rune, int) {
	if i >= len(s) {
		return -1, 0
	}
	if c := s[i]; c < utf8.RuneSelf {
		return rune(c), 1
	}
	return utf8.DecodeRuneInString(s[i:])
}

func runeBefore(s string, i int) rune {
	if i <= 0 {
		return -1
	}
	if c := s[i-1]; c < utf8.RuneSelf {
		return rune(c)
	}
	r, _ := utf8.DecodeLastRuneInString(s[:i])
	return r
}

// find returns the leftmost-first match starting at or after pos as [start, end), or
// (-1, -1). The text before pos still counts for ^, \b and \B.
func (vm *wordVM) find(s string, pos int) (int, int) {
	m := vm.pool.Get().(*vmMachine)
	defer vm.pool.Put(m)
	run, next := &m.q0, &m.q1
	run.clear()
	next.clear()
	matchStart, matchEnd := -1, -1
	r, w := runeAt(s, pos)
	ctx := emptyContext(runeBefore(s, pos), r)
	for {
		if matchStart < 0 {
			// A new thread for a match starting here, after (below) every thread already
			// running: an earlier start always wins.
			vm.add(run, uint32(vm.prog.Start), pos, pos, ctx)
		}
		if len(run.dense) == 0 && matchStart >= 0 {
			break
		}
		nextPos := pos + w
		r2, w2 := runeAt(s, nextPos)
		nextCtx := emptyContext(r, r2)
		for j := 0; j < len(run.dense); j++ {
			t := run.dense[j]
			if !t.live {
				continue
			}
			inst := &vm.prog.Inst[t.pc]
			if inst.Op == syntax.InstMatch {
				// The highest-priority thread still alive matched: lower ones are cut.
				matchStart, matchEnd = t.start, pos
				break
			}
			if r >= 0 && matchesRune(inst, r) {
				vm.add(next, inst.Out, nextPos, t.start, nextCtx)
			}
		}
		run.clear()
		run, next = next, run
		if r < 0 {
			break
		}
		pos, r, w, ctx = nextPos, r2, w2, nextCtx
	}
	return matchStart, matchEnd
}

func matchesRune(inst *syntax.Inst, r rune) bool {
	switch inst.Op {
	case syntax.InstRune, syntax.InstRune1:
		return inst.MatchRune(r)
	case syntax.InstRuneAny:
		return true
	case syntax.InstRuneAnyNotNL:
		return r != '\n'
	}
	return false
}

// add follows the empty transitions from pc at pos and queues the threads that wait for a
// character or a match, in priority order.
func (vm *wordVM) add(q *vmQueue, pc uint32, pos, start int, ctx syntax.EmptyOp) {
	if pc == 0 || q.contains(pc) {
		return // instruction 0 is always InstFail
	}
	j := len(q.dense)
	q.dense = append(q.dense, vmThread{pc: pc})
	q.sparse[pc] = uint32(j)
	inst := &vm.prog.Inst[pc]
	switch inst.Op {
	case syntax.InstAlt, syntax.InstAltMatch:
		vm.add(q, inst.Out, pos, start, ctx)
		vm.add(q, inst.Arg, pos, start, ctx)
	case syntax.InstEmptyWidth:
		if syntax.EmptyOp(inst.Arg)&^ctx == 0 {
			vm.add(q, inst.Out, pos, start, ctx)
		}
	case syntax.InstNop, syntax.InstCapture:
		vm.add(q, inst.Out, pos, start, ctx)
	case syntax.InstMatch, syntax.InstRune, syntax.InstRune1, syntax.InstRuneAny, syntax.InstRuneAnyNotNL:
		q.dense[j] = vmThread{pc: pc, start: start, live: true}
	}
}

// Command verify checks, with Go's reference implementations golang.org/x/mod/sumdb/note and
// golang.org/x/mod/sumdb/tlog, what an Accord server published: signed checkpoints (C2SP signed-note
// and tlog-checkpoint), RFC 6962 inclusion proofs and consistency proofs.
//
// Usage: verify INPUT.json
//
// INPUT.json:
//
//	{
//	  "verifier_key": "name+hex8+base64",             // the log key; its name is the origin
//	  "checkpoints": ["<signed note>", ...],          // must include the size-0 checkpoint
//	  "leaves": ["<base64>", ...],                    // optional: every leaf from index 0, in order
//	  "inclusion": [{"index": 3, "tree_size": 8, "leaf": "<base64>", "proof": ["<base64>", ...]}],
//	  "consistency": [{"old_size": 3, "new_size": 8, "proof": ["<base64>", ...]}],
//	  "tiles": {"base": "http://127.0.0.1:8080", "checks": [{"tree_size": 8, "indexes": [3], "proofs": [["<base64>", ...]]}]}
//	}
//
// Every tree size named by a proof must have a checkpoint in the list: roots are only ever taken from
// signed checkpoints. Exit status: 0 when every positive check passes and every negative (tampered)
// check fails; 1 otherwise; 2 when the input cannot be read.
package main

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// The RFC 6962 root of the empty tree, SHA-256(""). Go's tlog.TreeHash(0) returns 32 zero bytes instead.
const emptyRootB64 = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="

type inclusion struct {
	Index    int64    `json:"index"`
	TreeSize int64    `json:"tree_size"`
	Leaf     []byte   `json:"leaf"`
	Proof    [][]byte `json:"proof"`
}

type consistency struct {
	OldSize int64    `json:"old_size"`
	NewSize int64    `json:"new_size"`
	Proof   [][]byte `json:"proof"`
}

type input struct {
	VerifierKey string        `json:"verifier_key"`
	Checkpoints []string      `json:"checkpoints"`
	Leaves      [][]byte      `json:"leaves"`
	Inclusion   []inclusion   `json:"inclusion"`
	Consistency []consistency `json:"consistency"`
	Tiles       *tilesInput   `json:"tiles,omitempty"`
}

type checkpoint struct {
	origin string
	size   int64
	root   tlog.Hash
	note   string
}

// tally counts checks; every failure is printed as it happens.
type tally struct {
	pass, fail       int
	negPass, negFail int
}

func (t *tally) ok(cond bool, format string, args ...interface{}) bool {
	if cond {
		t.pass++
	} else {
		t.fail++
		fmt.Printf("FAIL: %s\n", fmt.Sprintf(format, args...))
	}
	return cond
}

// rejects records a negative check: err must be non-nil (the tampered input was rejected).
func (t *tally) rejects(err error, format string, args ...interface{}) {
	if err != nil {
		t.negPass++
	} else {
		t.negFail++
		fmt.Printf("FAIL (tampered input accepted): %s\n", fmt.Sprintf(format, args...))
	}
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: verify INPUT.json")
		os.Exit(2)
	}
	raw, err := os.ReadFile(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	var in input
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		fmt.Fprintf(os.Stderr, "bad input: %v\n", err)
		os.Exit(2)
	}
	var t tally
	run(&in, &t)
	fmt.Printf("summary: %d positive checks passed, %d failed; %d tampered inputs rejected, %d wrongly accepted\n",
		t.pass, t.fail, t.negPass, t.negFail)
	if t.fail != 0 || t.negFail != 0 || t.pass == 0 || t.negPass == 0 {
		fmt.Println("RESULT: FAIL")
		os.Exit(1)
	}
	fmt.Println("RESULT: OK")
}

func run(in *input, t *tally) {
	verifier, err := note.NewVerifier(in.VerifierKey)
	if !t.ok(err == nil, "note.NewVerifier(%q): %v", in.VerifierKey, err) {
		return
	}
	fmt.Printf("log key: %s (name %q, key hash %08x)\n", in.VerifierKey, verifier.Name(), verifier.KeyHash())
	known := note.VerifierList(verifier)

	// 1. Checkpoints: note.Open, then the C2SP tlog-checkpoint body.
	roots := map[int64]tlog.Hash{}
	var cps []checkpoint
	for i, text := range in.Checkpoints {
		cp, err := openCheckpoint([]byte(text), known, verifier.Name())
		if !t.ok(err == nil, "checkpoint[%d]: %v\n%s", i, err, text) {
			continue
		}
		if prev, dup := roots[cp.size]; dup {
			t.ok(prev == cp.root, "two checkpoints of size %d with different roots", cp.size)
		}
		roots[cp.size] = cp.root
		cps = append(cps, cp)
	}
	sizes := make([]int64, 0, len(roots))
	for s := range roots {
		sizes = append(sizes, s)
	}
	sort.Slice(sizes, func(i, j int) bool { return sizes[i] < sizes[j] })
	fmt.Printf("opened %d of %d checkpoints; sizes %v\n", len(cps), len(in.Checkpoints), sizes)

	// The size-0 checkpoint must exist and carry SHA-256(""), not Go's all-zero TreeHash(0).
	if r0, ok := roots[0]; t.ok(ok, "no size-0 checkpoint in the input") {
		sum := sha256.Sum256(nil)
		t.ok(r0 == tlog.Hash(sum), "size-0 root is %s, want SHA-256(\"\") = %s", r0, tlog.Hash(sum))
		t.ok(base64.StdEncoding.EncodeToString(r0[:]) == emptyRootB64, "size-0 root is %s, want %s", r0, emptyRootB64)
		zero, _ := tlog.TreeHash(0, nil)
		if zero != r0 {
			fmt.Printf("note: Go tlog.TreeHash(0) = %s differs from the RFC 6962 empty root %s, as expected\n", zero, r0)
		}
	}

	// 2. Independent recomputation from the leaves with Go's tlog: every checkpoint root, and Go's own
	// proofs, which must equal the server's byte for byte.
	var hashes memHashes
	if len(in.Leaves) > 0 {
		for i, leaf := range in.Leaves {
			hs, err := tlog.StoredHashes(int64(i), leaf, hashes)
			if !t.ok(err == nil, "tlog.StoredHashes(%d): %v", i, err) {
				return
			}
			hashes = append(hashes, hs...)
		}
		checked := 0
		for _, s := range sizes {
			if s == 0 || s > int64(len(in.Leaves)) {
				continue
			}
			th, err := tlog.TreeHash(s, hashes)
			if t.ok(err == nil, "tlog.TreeHash(%d): %v", s, err) {
				t.ok(th == roots[s], "size %d: Go computes root %s from the leaves, checkpoint says %s", s, th, roots[s])
				checked++
			}
		}
		fmt.Printf("recomputed %d checkpoint roots from %d leaves with tlog.TreeHash\n", checked, len(in.Leaves))
	}

	// 3. Inclusion proofs.
	nInc := 0
	for _, e := range in.Inclusion {
		what := fmt.Sprintf("inclusion of index %d at size %d", e.Index, e.TreeSize)
		if e.TreeSize == 0 {
			t.ok(false, "%s: no inclusion proof exists in the empty tree", what)
			continue
		}
		root, ok := roots[e.TreeSize]
		if !t.ok(ok, "%s: no checkpoint of size %d in the input", what, e.TreeSize) {
			continue
		}
		if e.Index < int64(len(in.Leaves)) {
			t.ok(bytes.Equal(e.Leaf, in.Leaves[e.Index]), "%s: leaf differs from leaves[%d]", what, e.Index)
		}
		proof, err := toHashes(e.Proof)
		if !t.ok(err == nil, "%s: %v", what, err) {
			continue
		}
		leafHash := tlog.RecordHash(e.Leaf)
		err = tlog.CheckRecord(proof, e.TreeSize, root, e.Index, leafHash)
		t.ok(err == nil, "%s: tlog.CheckRecord: %v", what, err)
		nInc++
		if len(in.Leaves) > 0 && e.TreeSize <= int64(len(in.Leaves)) {
			mine, err := tlog.ProveRecord(e.TreeSize, e.Index, hashes)
			if t.ok(err == nil, "%s: tlog.ProveRecord: %v", what, err) {
				t.ok(equalProofs(mine, proof), "%s: server proof %v differs from Go's tlog.ProveRecord %v", what, proof, mine)
			}
		}

		// Negative: a flipped byte in a proof hash, a flipped leaf byte, a truncated proof, a wrong index.
		if len(proof) > 0 {
			bad := append(tlog.RecordProof(nil), proof...)
			k := int(e.Index) % len(bad)
			bad[k][int(e.TreeSize)%32] ^= 0x01
			t.rejects(tlog.CheckRecord(bad, e.TreeSize, root, e.Index, leafHash), "%s with proof[%d] flipped", what, k)
			t.rejects(tlog.CheckRecord(proof[:len(proof)-1], e.TreeSize, root, e.Index, leafHash),
				"%s with the last proof hash dropped", what)
			other := e.Index ^ 1
			if other < e.TreeSize {
				t.rejects(tlog.CheckRecord(proof, e.TreeSize, root, other, leafHash), "%s claimed at index %d", what, other)
			}
		}
		if len(e.Leaf) > 0 {
			leaf := append([]byte(nil), e.Leaf...)
			leaf[len(leaf)/2] ^= 0x80
			t.rejects(tlog.CheckRecord(proof, e.TreeSize, root, e.Index, tlog.RecordHash(leaf)), "%s with a leaf byte flipped", what)
		}
		// The data hash (no 0x00 leaf prefix) must not verify: RFC 6962 domain separation.
		t.rejects(tlog.CheckRecord(proof, e.TreeSize, root, e.Index, tlog.Hash(sha256.Sum256(e.Leaf))),
			"%s with SHA-256(leaf) instead of the leaf hash", what)
	}

	// 4. Consistency proofs.
	nCons := 0
	for i, c := range in.Consistency {
		what := fmt.Sprintf("consistency %d -> %d", c.OldSize, c.NewSize)
		if c.OldSize == 0 {
			// Go's CheckTree rejects n < 1 (and its empty root is zeros); every tree extends the empty one.
			t.ok(len(c.Proof) == 0, "%s: a proof from the empty tree should be empty, got %d hashes", what, len(c.Proof))
			continue
		}
		oldRoot, ok1 := roots[c.OldSize]
		newRoot, ok2 := roots[c.NewSize]
		if !t.ok(ok1 && ok2, "%s: the input lacks a checkpoint of one of these sizes", what) {
			continue
		}
		proof, err := toHashes(c.Proof)
		if !t.ok(err == nil, "%s: %v", what, err) {
			continue
		}
		err = tlog.CheckTree(proof, c.NewSize, newRoot, c.OldSize, oldRoot)
		t.ok(err == nil, "%s: tlog.CheckTree: %v", what, err)
		nCons++
		if len(in.Leaves) > 0 && c.NewSize <= int64(len(in.Leaves)) && c.OldSize < c.NewSize {
			mine, err := tlog.ProveTree(c.NewSize, c.OldSize, hashes)
			if t.ok(err == nil, "%s: tlog.ProveTree: %v", what, err) {
				t.ok(equalProofs(tlog.RecordProof(mine), tlog.RecordProof(proof)),
					"%s: server proof %v differs from Go's tlog.ProveTree %v", what, proof, mine)
			}
		}

		// Negative: a flipped byte in a proof hash, a dropped hash, swapped roots.
		if len(proof) > 0 {
			bad := append(tlog.TreeProof(nil), proof...)
			k := i % len(bad)
			bad[k][i%32] ^= 0x01
			t.rejects(tlog.CheckTree(bad, c.NewSize, newRoot, c.OldSize, oldRoot), "%s with proof[%d] flipped", what, k)
			t.rejects(tlog.CheckTree(proof[:len(proof)-1], c.NewSize, newRoot, c.OldSize, oldRoot),
				"%s with the last proof hash dropped", what)
		}
		if oldRoot != newRoot {
			t.rejects(tlog.CheckTree(proof, c.NewSize, oldRoot, c.OldSize, newRoot), "%s with the roots swapped", what)
		}
	}
	fmt.Printf("checked %d inclusion proofs and %d consistency proofs with tlog\n", nInc, nCons)

	// 5. Negative checks on the notes themselves.
	_, otherVkey, err := note.GenerateKey(rand.Reader, verifier.Name())
	if !t.ok(err == nil, "note.GenerateKey: %v", err) {
		return
	}
	other, err := note.NewVerifier(otherVkey)
	if !t.ok(err == nil, "note.NewVerifier(other): %v", err) {
		return
	}
	for _, cp := range cps {
		what := fmt.Sprintf("checkpoint of size %d", cp.size)
		body, sigs := splitNote(cp.note)
		lines := strings.SplitAfter(body, "\n")
		// One flipped character in each body line (kept well-formed, so the signature is what fails).
		for li := 0; li < 3 && li < len(lines); li++ {
			line := []byte(lines[li])
			pos := (len(line) - 1) / 2
			line[pos] = flip(line[pos])
			tampered := strings.Join(lines[:li], "") + string(line) + strings.Join(lines[li+1:], "") + "\n" + sigs
			_, err := note.Open([]byte(tampered), known)
			var inv *note.InvalidSignatureError
			if err != nil && !errors.As(err, &inv) {
				t.ok(false, "%s, body line %d flipped: rejected, but not for its signature: %v", what, li+1, err)
			}
			t.rejects(err, "%s with body line %d flipped (%q)", what, li+1, strings.TrimSuffix(string(line), "\n"))
		}
		// A flipped byte in the signature itself.
		t.rejects(openWith(flipSignature(cp.note), known), "%s with its signature flipped", what)
		// A different key with the same name: the signature is unknown, so nothing verifies.
		err := openWith(cp.note, note.VerifierList(other))
		var unv *note.UnverifiedNoteError
		if err != nil && !errors.As(err, &unv) {
			t.ok(false, "%s under another key of the same name: unexpected error %v", what, err)
		}
		t.rejects(err, "%s opened with another key named %q", what, verifier.Name())
	}
	if in.Tiles != nil {
		runTiles(in.Tiles, roots, t)
	}
}

// openCheckpoint opens a signed note with the log key and parses its C2SP tlog-checkpoint body.
func openCheckpoint(msg []byte, known note.Verifiers, keyName string) (checkpoint, error) {
	n, err := note.Open(msg, known)
	if err != nil {
		return checkpoint{}, fmt.Errorf("note.Open: %w", err)
	}
	if len(n.Sigs) != 1 || n.Sigs[0].Name != keyName {
		return checkpoint{}, fmt.Errorf("want exactly one verified signature by %q, got %+v", keyName, n.Sigs)
	}
	if len(n.UnverifiedSigs) != 0 {
		fmt.Printf("note: checkpoint carries %d signatures by other keys: %+v\n", len(n.UnverifiedSigs), n.UnverifiedSigs)
	}
	lines := strings.Split(n.Text, "\n")
	// origin, size, root, then "" after the final newline; C2SP allows extension lines, Accord writes none.
	if len(lines) != 4 || lines[3] != "" {
		return checkpoint{}, fmt.Errorf("body is not exactly origin\\nsize\\nroot\\n: %q", n.Text)
	}
	if lines[0] != keyName {
		return checkpoint{}, fmt.Errorf("origin line %q is not the key name %q", lines[0], keyName)
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil || size < 0 || strconv.FormatInt(size, 10) != lines[1] {
		return checkpoint{}, fmt.Errorf("size line %q is not a canonical decimal", lines[1])
	}
	root, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(root) != tlog.HashSize || base64.StdEncoding.EncodeToString(root) != lines[2] {
		return checkpoint{}, fmt.Errorf("root line %q is not the standard base64 of 32 bytes", lines[2])
	}
	var h tlog.Hash
	copy(h[:], root)
	return checkpoint{origin: lines[0], size: size, root: h, note: string(msg)}, nil
}

func openWith(msg string, known note.Verifiers) error {
	_, err := note.Open([]byte(msg), known)
	return err
}

// splitNote returns the body (text before the blank line, with its final newline) and the signature block.
func splitNote(msg string) (string, string) {
	i := strings.LastIndex(msg, "\n\n")
	if i < 0 {
		return msg, ""
	}
	return msg[:i+1], msg[i+2:]
}

// flipSignature flips one byte of the Ed25519 signature (not the key hash) in the first signature line.
func flipSignature(msg string) string {
	body, sigs := splitNote(msg)
	line, rest, _ := strings.Cut(sigs, "\n")
	sp := strings.LastIndexByte(line, ' ')
	if sp < 0 {
		return msg
	}
	sig, err := base64.StdEncoding.DecodeString(line[sp+1:])
	if err != nil || len(sig) < 5 {
		return msg
	}
	sig[4+len(sig[4:])/2] ^= 0x01
	return body + "\n" + line[:sp+1] + base64.StdEncoding.EncodeToString(sig) + "\n" + rest
}

// flip changes one character to another of the same class, so the note stays well-formed.
func flip(c byte) byte {
	switch {
	case c >= '0' && c <= '8':
		return c + 1
	case c == '9':
		return '0'
	case c >= 'a' && c <= 'y', c >= 'A' && c <= 'Y':
		return c + 1
	case c == 'z':
		return 'a'
	case c == 'Z':
		return 'A'
	case c == '.':
		return '-'
	default:
		return 'x'
	}
}

func toHashes(raw [][]byte) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(raw))
	for i, b := range raw {
		if len(b) != tlog.HashSize {
			return nil, fmt.Errorf("proof[%d] is %d bytes, not %d", i, len(b), tlog.HashSize)
		}
		copy(out[i][:], b)
	}
	return out, nil
}

func equalProofs(a, b tlog.RecordProof) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// memHashes is an in-memory tlog.HashReader over stored hashes in storage order.
type memHashes []tlog.Hash

func (m memHashes) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		if x < 0 || x >= int64(len(m)) {
			return nil, fmt.Errorf("stored hash %d not available (have %d)", x, len(m))
		}
		out[i] = m[x]
	}
	return out, nil
}

package main

// Tiles: Accord's C2SP tlog-tiles read with Go's sumdb/tlog. Go names the same tiles with the height in
// the path (tile/8/L/N, tile/8/data/N); C2SP drops it and calls data tiles entries (tile/L/N,
// tile/entries/N). Everything else — tile contents, widths, the N encoding — must be byte-identical, which
// tlog.ParseTilePath, tlog.TileHashReader, tlog.ProveRecord and tlog.CheckRecord check here.

import (
	"encoding/binary"
	"fmt"
	"io"
	"net/http"
	"strings"

	"golang.org/x/mod/sumdb/tlog"
)

// The "tiles" part of INPUT.json.
type tilesInput struct {
	Base   string      `json:"base"` // the log's tlog-tiles prefix, e.g. http://127.0.0.1:8080
	Checks []tileCheck `json:"checks"`
}

// Inclusion of sampled entries in the tree of one signed checkpoint, read from tiles only; the proofs
// Accord's GetInclusionProof returned for the same entries, to compare with Go's.
type tileCheck struct {
	TreeSize int64      `json:"tree_size"`
	Indexes  []int64    `json:"indexes"`
	Proofs   [][][]byte `json:"proofs"`
}

// httpTiles is a tlog.TileReader over an Accord tile server.
type httpTiles struct {
	base    string
	fetched int
	flip    *tlog.Tile // when set, one byte of this tile is changed as it is read (a lying server)
}

func (r *httpTiles) Height() int { return 8 }

// c2spPath turns Go's tile path into the C2SP one.
func c2spPath(goPath string) string {
	p := strings.Replace(goPath, "tile/8/", "tile/", 1)
	return strings.Replace(p, "tile/data/", "tile/entries/", 1)
}

func (r *httpTiles) get(goPath string) ([]byte, error) {
	url := r.base + "/" + c2spPath(goPath)
	resp, err := http.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	r.fetched++
	return io.ReadAll(resp.Body)
}

func (r *httpTiles) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, t := range tiles {
		// The path round-trips through Go's own parser.
		back, err := tlog.ParseTilePath(t.Path())
		if err != nil || back != t {
			return nil, fmt.Errorf("tlog.ParseTilePath(%q) = %+v, %v", t.Path(), back, err)
		}
		data, err := r.get(t.Path())
		if err != nil {
			return nil, err
		}
		if r.flip != nil && *r.flip == t && len(data) > 0 {
			data[len(data)/2] ^= 1
		}
		out[i] = data
	}
	return out, nil
}

func (r *httpTiles) SaveTiles(tiles []tlog.Tile, data [][]byte) {}

// entry reads entry idx of the tree of size n from its entry bundle (uint16 big-endian length prefixes).
func (r *httpTiles) entry(idx, n int64) ([]byte, error) {
	tile := tlog.Tile{H: 8, L: -1, N: idx / 256, W: 256}
	if rest := n - tile.N*256; rest < 256 {
		tile.W = int(rest)
	}
	data, err := r.get(tile.Path())
	if err != nil {
		return nil, err
	}
	for i := int64(0); ; i++ {
		if len(data) < 2 {
			return nil, fmt.Errorf("%s: ends before entry %d", tile.Path(), idx)
		}
		l := int(binary.BigEndian.Uint16(data))
		if len(data) < 2+l {
			return nil, fmt.Errorf("%s: entry %d is cut short", tile.Path(), tile.N*256+i)
		}
		if tile.N*256+i == idx {
			return data[2 : 2+l], nil
		}
		data = data[2+l:]
	}
}

func runTiles(in *tilesInput, roots map[int64]tlog.Hash, t *tally) {
	for _, c := range in.Checks {
		root, ok := roots[c.TreeSize]
		if !t.ok(ok, "tiles: no signed checkpoint of size %d in the input", c.TreeSize) {
			continue
		}
		tree := tlog.Tree{N: c.TreeSize, Hash: root}
		r := &httpTiles{base: in.Base}
		hr := tlog.TileHashReader(tree, r)
		th, err := tlog.TreeHash(c.TreeSize, hr)
		t.ok(err == nil && th == root, "tiles at %d: TreeHash from tiles = %v, %v; want the signed root %v", c.TreeSize, th, err, root)
		for i, idx := range c.Indexes {
			what := fmt.Sprintf("tiles: entry %d at size %d", idx, c.TreeSize)
			leaf, err := r.entry(idx, c.TreeSize)
			if !t.ok(err == nil, "%s: entry bundle: %v", what, err) {
				continue
			}
			proof, err := tlog.ProveRecord(c.TreeSize, idx, hr)
			if !t.ok(err == nil, "%s: tlog.ProveRecord: %v", what, err) {
				continue
			}
			err = tlog.CheckRecord(proof, c.TreeSize, root, idx, tlog.RecordHash(leaf))
			t.ok(err == nil, "%s: tlog.CheckRecord: %v", what, err)
			if i < len(c.Proofs) {
				want, err := toHashes(c.Proofs[i])
				t.ok(err == nil && equalProofs(proof, want), "%s: Go's proof from tiles differs from Accord's GetInclusionProof", what)
			}
			// A server that changes one hash in the entry's level-0 tile: the proof Go builds from it
			// must not check (Go's TileHashReader alone does not always notice; CheckRecord does).
			if c.TreeSize > 1 {
				level0 := tlog.TileForIndex(8, tlog.StoredHashIndex(0, idx))
				level0 = tlog.Tile{H: 8, L: 0, N: level0.N, W: level0.W}
				if full := c.TreeSize - level0.N*256; full >= 256 {
					level0.W = 256
				} else {
					level0.W = int(full)
				}
				bad := &httpTiles{base: in.Base, flip: &level0}
				p, err := tlog.ProveRecord(c.TreeSize, idx, tlog.TileHashReader(tree, bad))
				if err == nil {
					err = tlog.CheckRecord(p, c.TreeSize, root, idx, tlog.RecordHash(leaf))
				}
				t.rejects(err, "%s: a proof through a changed level-0 tile", what)
			}
		}
		fmt.Printf("tiles: size %d: %d entries proven from %d tiles fetched\n", c.TreeSize, len(c.Indexes), r.fetched)
	}
}

// Command interop checks a running rebuild-ledger log with the Go team's reference code only
// (golang.org/x/mod/sumdb/note and golang.org/x/mod/sumdb/tlog, unmodified, as Debian packages them):
// it opens the checkpoint, reads the log's C2SP tiles, recomputes the root from the hash tiles and
// again from the entry bundles, and checks inclusion proofs and a consistency proof built from tiles.
//
// It prints one JSON object on stdout and exits 0 when every check passed, 1 otherwise.
//
// Build offline: GO111MODULE=off GOPATH=/usr/share/gocode go build -o interop ./test/interop
package main

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

const tileHeight = 8

type checkpoint struct {
	origin string
	size   int64
	root   tlog.Hash
}

type report struct {
	Origin            string  `json:"origin"`
	Size              int64   `json:"size"`
	TilesRead         int     `json:"tilesRead"`
	RootFromTiles     bool    `json:"rootFromTiles"`
	RootFromEntries   bool    `json:"rootFromEntries"`
	InclusionChecked  []int64 `json:"inclusionChecked"`
	ConsistencyFrom   int64   `json:"consistencyFrom,omitempty"`
	ConsistencyPassed bool    `json:"consistencyPassed,omitempty"`
	Error             string  `json:"error,omitempty"`
}

var client = &http.Client{Timeout: 30 * time.Second}

func fetch(base, path string) ([]byte, error) {
	resp, err := client.Get(strings.TrimSuffix(base, "/") + "/" + path)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: status %d", path, resp.StatusCode)
	}
	return body, nil
}

// c2spPath maps x/mod's tile paths (tile/8/<L>/<N>, tile/8/data/<N>) to C2SP tlog-tiles paths
// (tile/<L>/<N>, tile/entries/<N>): the only difference is the height element and the data name.
func c2spPath(t tlog.Tile) string {
	p := t.Path()
	prefix := fmt.Sprintf("tile/%d/", tileHeight)
	if !strings.HasPrefix(p, prefix) {
		panic("unexpected x/mod tile path " + p)
	}
	rest := strings.TrimPrefix(p, prefix)
	if strings.HasPrefix(rest, "data/") {
		return "tile/entries/" + strings.TrimPrefix(rest, "data/")
	}
	return "tile/" + rest
}

// httpTileReader serves x/mod's TileHashReader from the log's C2SP hash tiles.
type httpTileReader struct {
	base  string
	reads int
}

func (r *httpTileReader) Height() int { return tileHeight }

func (r *httpTileReader) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, t := range tiles {
		data, err := fetch(r.base, c2spPath(t))
		if err != nil {
			return nil, err
		}
		r.reads++
		out[i] = data
	}
	return out, nil
}

func (r *httpTileReader) SaveTiles(tiles []tlog.Tile, data [][]byte) {}

func parseCheckpoint(text string) (checkpoint, error) {
	lines := strings.Split(text, "\n")
	if len(lines) < 4 || lines[len(lines)-1] != "" {
		return checkpoint{}, errors.New("checkpoint: too few lines")
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil || size < 0 || strconv.FormatInt(size, 10) != lines[1] {
		return checkpoint{}, fmt.Errorf("checkpoint: bad size %q", lines[1])
	}
	root, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(root) != tlog.HashSize {
		return checkpoint{}, fmt.Errorf("checkpoint: bad root %q", lines[2])
	}
	var h tlog.Hash
	copy(h[:], root)
	return checkpoint{origin: lines[0], size: size, root: h}, nil
}

func openCheckpoint(msg []byte, verifier note.Verifier) (checkpoint, error) {
	n, err := note.Open(msg, note.VerifierList(verifier))
	if err != nil {
		return checkpoint{}, fmt.Errorf("note.Open: %w", err)
	}
	c, err := parseCheckpoint(n.Text)
	if err != nil {
		return checkpoint{}, err
	}
	if c.origin != verifier.Name() {
		return checkpoint{}, fmt.Errorf("origin %q is not the key name %q", c.origin, verifier.Name())
	}
	return c, nil
}

// emptyRoot is RFC 6962's root of the empty tree; x/mod's TreeHash(0) returns zeros instead.
var emptyRoot = tlog.Hash{0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
	0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55}

// readEntries reads every entry bundle of the tree and returns the leaves, in order.
func readEntries(base string, size int64) ([][]byte, error) {
	leaves := make([][]byte, 0, size)
	for n := int64(0); n*256 < size; n++ {
		width := size - n*256
		if width > 256 {
			width = 256
		}
		t := tlog.Tile{H: tileHeight, L: -1, N: n, W: int(width)}
		data, err := fetch(base, c2spPath(t))
		if err != nil {
			return nil, err
		}
		for i := int64(0); i < width; i++ {
			if len(data) < 2 {
				return nil, fmt.Errorf("entry bundle %d: truncated at entry %d", n, i)
			}
			l := int(binary.BigEndian.Uint16(data))
			if len(data) < 2+l {
				return nil, fmt.Errorf("entry bundle %d: entry %d truncated", n, i)
			}
			leaves = append(leaves, data[2:2+l])
			data = data[2+l:]
		}
		if len(data) != 0 {
			return nil, fmt.Errorf("entry bundle %d: %d trailing bytes", n, len(data))
		}
	}
	return leaves, nil
}

func run(base, vkey, oldPath string, indexes []int64, r *report) error {
	verifier, err := note.NewVerifier(vkey)
	if err != nil {
		return fmt.Errorf("note.NewVerifier: %w", err)
	}
	msg, err := fetch(base, "checkpoint")
	if err != nil {
		return err
	}
	c, err := openCheckpoint(msg, verifier)
	if err != nil {
		return err
	}
	r.Origin, r.Size = c.origin, c.size

	reader := &httpTileReader{base: base}
	hashes := tlog.TileHashReader(tlog.Tree{N: c.size, Hash: c.root}, reader)
	if c.size == 0 {
		r.RootFromTiles = c.root == emptyRoot
	} else {
		root, err := tlog.TreeHash(c.size, hashes)
		if err != nil {
			return fmt.Errorf("TreeHash from tiles: %w", err)
		}
		r.RootFromTiles = root == c.root
	}
	if !r.RootFromTiles {
		return errors.New("the root recomputed from the hash tiles is not the checkpoint's")
	}

	// Recompute the whole tree from the entry bundles, independently of the hash tiles.
	leaves, err := readEntries(base, c.size)
	if err != nil {
		return err
	}
	var stored []tlog.Hash
	memory := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			out[i] = stored[x]
		}
		return out, nil
	})
	for i, leaf := range leaves {
		more, err := tlog.StoredHashes(int64(i), leaf, memory)
		if err != nil {
			return err
		}
		stored = append(stored, more...)
	}
	if c.size > 0 {
		root, err := tlog.TreeHash(c.size, memory)
		if err != nil {
			return err
		}
		r.RootFromEntries = root == c.root
	} else {
		r.RootFromEntries = true
	}
	if !r.RootFromEntries {
		return errors.New("the root recomputed from the entry bundles is not the checkpoint's")
	}

	r.InclusionChecked = []int64{}
	for _, i := range indexes {
		if i < 0 || i >= c.size {
			continue
		}
		proof, err := tlog.ProveRecord(c.size, i, hashes)
		if err != nil {
			return fmt.Errorf("ProveRecord(%d): %w", i, err)
		}
		if err := tlog.CheckRecord(proof, c.size, c.root, i, tlog.RecordHash(leaves[i])); err != nil {
			return fmt.Errorf("CheckRecord(%d): %w", i, err)
		}
		r.InclusionChecked = append(r.InclusionChecked, i)
	}

	if oldPath != "" {
		oldMsg, err := os.ReadFile(oldPath)
		if err != nil {
			return err
		}
		old, err := openCheckpoint(oldMsg, verifier)
		if err != nil {
			return fmt.Errorf("old checkpoint: %w", err)
		}
		r.ConsistencyFrom = old.size
		if old.size > c.size {
			return fmt.Errorf("old checkpoint size %d is above the current %d", old.size, c.size)
		}
		// x/mod's CheckTree is defined for 1 <= old size; every tree extends the empty one.
		if old.size > 0 {
			proof, err := tlog.ProveTree(c.size, old.size, hashes)
			if err != nil {
				return fmt.Errorf("ProveTree: %w", err)
			}
			if err := tlog.CheckTree(proof, c.size, c.root, old.size, old.root); err != nil {
				return fmt.Errorf("CheckTree: %w", err)
			}
		}
		r.ConsistencyPassed = true
	}
	r.TilesRead = reader.reads
	return nil
}

func main() {
	base := flag.String("url", "", "base URL of the log (serves /checkpoint and /tile/...)")
	vkey := flag.String("vkey", "", "the log's note verifier key (name+hex+base64)")
	oldPath := flag.String("old", "", "a file holding an earlier signed checkpoint of the same log")
	indexList := flag.String("indexes", "", "comma-separated leaf indexes to prove from tiles")
	flag.Parse()
	if *base == "" || *vkey == "" {
		fmt.Fprintln(os.Stderr, "usage: interop -url URL -vkey KEY [-old FILE] [-indexes 0,1,2]")
		os.Exit(2)
	}
	var indexes []int64
	for _, s := range strings.Split(*indexList, ",") {
		if s == "" {
			continue
		}
		i, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bad index:", s)
			os.Exit(2)
		}
		indexes = append(indexes, i)
	}
	var r report
	err := run(*base, *vkey, *oldPath, indexes, &r)
	if err != nil {
		r.Error = err.Error()
	}
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	_ = enc.Encode(r)
	os.Stdout.Write(out.Bytes())
	if err != nil {
		os.Exit(1)
	}
}

package spec

import (
	"slices"
	"strings"

	"github.com/goccy/go-yaml/ast"

	"github.com/velocity-ci/velocity/internal/typo"
)

// MaxMatrixCells is the most cells one matrix may expand to (limit "max
// matrix cells"). Each cell is an action with its own process, log and
// journal rows; GitHub Actions stops at 256 as well.
const MaxMatrixCells = 256

// MaxCellNameLength bounds the name of a matrix cell, in bytes (limit
// "max cell name length"): the name is a log file's name, which a file
// system bounds to 255 bytes with the attempt number and ".log" added.
const MaxCellNameLength = 200

// Matrix runs an action once per combination of values, like GitHub
// Actions' strategy.matrix. Each combination is a cell: an action of its
// own, named ACTION@NAME=VALUE,NAME=VALUE (e.g. test@go=1.26,os=linux),
// with its own log and result-cache entry. A cell's values reach its
// script only as environment variables, MATRIX_NAME (the variable's name
// upper-cased), never by substitution into the script's text.
type Matrix struct {
	Pos Pos
	// Vars are the matrix's variables in the order written, each with
	// its values; the cells are their product, first variable outermost.
	Vars []MatrixVar
	// Exclude drops the cells that match every value of an entry.
	Exclude [][]MatrixValue
	// Include adds values to the cells that match the entry's values of
	// the variables above (without changing those), or adds the entry as
	// a cell of its own when it matches none, as GitHub Actions does.
	Include [][]MatrixValue
	// MaxParallel bounds how many cells run at once; 0 means no bound
	// beyond the run's own (--jobs).
	MaxParallel int
	// FailFast (default true): when a cell fails, the other running
	// cells of the matrix are stopped and those not started are
	// cancelled. With false, the other cells still start and finish.
	FailFast bool
	// Cells are the combinations, computed from the fields above.
	Cells []Cell
}

// MatrixVar is one variable of a matrix and its values.
type MatrixVar struct {
	Name   string
	Values []string
}

// MatrixValue is a variable's value in one cell or entry.
type MatrixValue struct {
	Name  string
	Value string
}

// Cell is one combination of a matrix.
type Cell struct {
	// Name is the cell's action name.
	Name string
	// Values in the order of the matrix's variables, then the variables
	// only include adds.
	Values []MatrixValue
}

// Env returns the variables the cell's script gets: MATRIX_NAME=value.
func (c Cell) Env() map[string]string {
	env := make(map[string]string, len(c.Values))
	for _, v := range c.Values {
		env[MatrixEnvName(v.Name)] = v.Value
	}
	return env
}

// Vars returns the cell's values by variable name, for matrix.NAME.
func (c Cell) Vars() map[string]string {
	m := make(map[string]string, len(c.Values))
	for _, v := range c.Values {
		m[v.Name] = v.Value
	}
	return m
}

// MatrixEnvName is the environment variable a matrix variable reaches
// the script as: go → MATRIX_GO.
func MatrixEnvName(name string) string { return "MATRIX_" + strings.ToUpper(name) }

// matrixKeys are the keys of a matrix that are not variables.
var matrixKeys = []string{"include", "exclude", "max_parallel", "fail_fast"}

// matrix reads an action's matrix; the cells are computed by cells once
// the action's name is known.
func (d *decoder) matrix(v ast.Node, path string) (*Matrix, matrixSource) {
	var src matrixSource
	m, ok := v.(*ast.MappingNode)
	if !ok {
		d.c.add(posOf(v), path, "must be a mapping of variables to lists of values, such as {go: [\"1.25\", \"1.26\"]}, got %s", kindOf(v))
		return nil, src
	}
	mx := &Matrix{Pos: posOf(v), FailFast: true}
	upper := map[string]string{}
	for _, e := range d.entries(m, path) {
		at := posOf(e.keyNode)
		switch e.key {
		case "include":
			mx.Include, src.include = d.matrixEntries(e.value, join(path, "include"))
			continue
		case "exclude":
			mx.Exclude, src.exclude = d.matrixEntries(e.value, join(path, "exclude"))
			continue
		case "max_parallel":
			mx.MaxParallel = d.positive(e.value, join(path, "max_parallel"))
			continue
		case "fail_fast":
			mx.FailFast = isNull(e.value) || d.boolean(e.value, join(path, "fail_fast"))
			continue
		}
		if !d.matrixName(e.key, at, path, upper) {
			continue
		}
		mv := MatrixVar{Name: e.key, Values: d.matrixValues(e.value, join(path, e.key))}
		if mv.Values != nil {
			mx.Vars = append(mx.Vars, mv)
		}
	}
	if len(m.Values) == 0 {
		d.c.add(posOf(v), path, "must name at least one variable, or include")
		return nil, src
	}
	return mx, src
}

// matrixName checks a variable name: it becomes MATRIX_NAME, so it must
// be a variable name, and two names must not differ only in case.
func (d *decoder) matrixName(name string, at Pos, path string, upper map[string]string) bool {
	if hyphen := strings.ReplaceAll(name, "-", "_"); hyphen != name && slices.Contains(matrixKeys, hyphen) {
		d.c.add(at, path, "unknown key %q (did you mean %q? keys of velocity.yml use \"_\")", name, hyphen)
		return false
	}
	if !validEnvName(name) {
		d.c.add(at, path, `%q is not a valid matrix variable name (use letters, digits and "_", not starting with a digit): it reaches the script as %s`, name, "MATRIX_"+strings.ToUpper(name))
		return false
	}
	if first, dup := upper[strings.ToUpper(name)]; dup && first != name {
		d.c.add(at, path, "%q and %q would both be the variable %s", first, name, MatrixEnvName(name))
		return false
	}
	upper[strings.ToUpper(name)] = name
	return true
}

// matrixValues reads a variable's list of values.
func (d *decoder) matrixValues(v ast.Node, path string) []string {
	seq, ok := v.(*ast.SequenceNode)
	if !ok {
		d.c.add(posOf(v), path, "must be a list of values, such as [\"1.25\", \"1.26\"], got %s", kindOf(v))
		return nil
	}
	if len(seq.Values) == 0 {
		d.c.add(posOf(v), path, "must list at least one value")
		return nil
	}
	var out []string
	for _, item := range seq.Values {
		item = d.resolve(item)
		s, ok := d.matrixValue(item, path)
		if !ok {
			continue
		}
		if slices.Contains(out, s) {
			d.c.add(posOf(item), path, "%q is listed twice", s)
			continue
		}
		out = append(out, s)
	}
	return out
}

// matrixValue reads one value. Values are part of the cell's name,
// which names a log file and is typed on the command line, so they keep
// to the characters of names (and "+", for versions such as 1.0+build).
func (d *decoder) matrixValue(v ast.Node, path string) (string, bool) {
	s, ok := scalarText(v)
	if b, isBool := v.(*ast.BoolNode); isBool {
		s, ok = b.GetToken().Value, true
	}
	if !ok {
		d.c.add(posOf(v), path, "each value must be a string, number or boolean, got %s", kindOf(v))
		return "", false
	}
	if s == "" || strings.IndexFunc(s, func(r rune) bool { return !isAlnum(r) && !strings.ContainsRune("_.-+", r) }) >= 0 {
		d.c.add(posOf(v), path, `%q cannot be a matrix value: values are part of the cell's name, so use letters, digits, "_", ".", "-" and "+" (derive other text from $MATRIX_… in the script)`, s)
		return "", false
	}
	return s, true
}

// matrixEntries reads include or exclude: a list of mappings of
// variables to values.
func (d *decoder) matrixEntries(v ast.Node, path string) ([][]MatrixValue, []Pos) {
	if isNull(v) {
		return nil, nil
	}
	seq, ok := v.(*ast.SequenceNode)
	if !ok {
		d.c.add(posOf(v), path, "must be a list of mappings such as {go: \"1.26\", os: linux}, got %s", kindOf(v))
		return nil, nil
	}
	if len(seq.Values) > MaxMatrixCells {
		// Each entry is compared with every cell: unbounded lists made a
		// 1 MiB file take seconds to validate.
		d.c.add(posOf(seq.Values[MaxMatrixCells]), path, "lists more than %d entries (limit %q is %d)",
			MaxMatrixCells, "max matrix cells", MaxMatrixCells)
		return nil, nil
	}
	var out [][]MatrixValue
	var at []Pos
	for i, item := range seq.Values {
		at = append(at, posOf(item))
		item = d.resolve(item)
		p := index(path, i)
		m, ok := item.(*ast.MappingNode)
		if !ok || len(m.Values) == 0 {
			d.c.add(posOf(item), p, "must be a mapping of variables to values, such as {go: \"1.26\"}, got %s", kindOf(item))
			out = append(out, nil)
			continue
		}
		var entry []MatrixValue
		upper := map[string]string{}
		for _, e := range d.entries(m, p) {
			if !d.matrixName(e.key, posOf(e.keyNode), p, upper) {
				continue
			}
			if s, ok := d.matrixValue(e.value, join(p, e.key)); ok {
				entry = append(entry, MatrixValue{Name: e.key, Value: s})
			}
		}
		out = append(out, entry)
	}
	return out, at
}

// positive reads an integer of at least 1.
func (d *decoder) positive(v ast.Node, path string) int {
	if isNull(v) {
		return 0
	}
	n, ok := v.(*ast.IntegerNode)
	if !ok {
		d.c.add(posOf(v), path, "must be an integer, got %s", kindOf(v))
		return 0
	}
	var i int64
	switch x := n.Value.(type) {
	case int64:
		i = x
	case uint64:
		i = int64(min(x, 1<<31))
	}
	if i < 1 {
		d.c.add(posOf(v), path, "must be at least 1, got %s", n.GetToken().Value)
		return 0
	}
	return int(min(i, 1<<31))
}

// MaxMatrixProduct bounds the product of a matrix's variables before
// exclude, so that ten variables of ten values (ten billion cells) are
// refused before they are built (limit "max matrix product").
const MaxMatrixProduct = 16 * MaxMatrixCells

// matrixSource remembers where include and exclude entries were written.
type matrixSource struct {
	include, exclude []Pos
}

// cells computes a matrix's cells for the action named name, reporting
// excludes that match nothing, variables an exclude does not have, cells
// that repeat, and a matrix past MaxMatrixCells.
func (d *decoder) cells(mx *Matrix, src matrixSource, name string, path string) {
	entryPos := func(at []Pos, i int) Pos {
		if i < len(at) {
			return at[i]
		}
		return mx.Pos
	}
	size := 1
	for _, mv := range mx.Vars {
		size *= len(mv.Values)
		if size > MaxMatrixProduct {
			d.c.add(mx.Pos, path, "the matrix's variables make more than %d combinations before exclude (limit %q is %d); split it",
				MaxMatrixProduct, "max matrix product", MaxMatrixProduct)
			return
		}
	}
	names := make([]string, len(mx.Vars))
	for i, mv := range mx.Vars {
		names[i] = mv.Name
	}
	var combos [][]MatrixValue
	if len(mx.Vars) > 0 {
		combos = [][]MatrixValue{nil}
		for _, mv := range mx.Vars {
			next := make([][]MatrixValue, 0, len(combos)*len(mv.Values))
			for _, c := range combos {
				for _, val := range mv.Values {
					next = append(next, append(slices.Clip(c), MatrixValue{mv.Name, val}))
				}
			}
			combos = next
		}
	}
	for i, ex := range mx.Exclude {
		bad := false
		for _, kv := range ex {
			if !slices.Contains(names, kv.Name) {
				d.c.add(entryPos(src.exclude, i), index(join(path, "exclude"), i),
					"%q is not a variable of the matrix%s", kv.Name, typo.DidYouMean(kv.Name, names))
				bad = true
			}
		}
		if bad || ex == nil {
			continue
		}
		kept := combos[:0]
		for _, c := range combos {
			if !matches(c, ex, nil) {
				kept = append(kept, c)
			}
		}
		if len(kept) == len(combos) {
			d.c.add(entryPos(src.exclude, i), index(join(path, "exclude"), i), "matches no cell of the matrix; check its values")
		}
		combos = kept
	}
	product := len(combos)
	added := map[int]int{} // combos added by include → the include's index
	for n, inc := range mx.Include {
		if inc == nil {
			continue
		}
		matched := false
		for k := range combos[:product] {
			if matches(combos[k], inc, names) {
				combos[k] = merge(combos[k], inc)
				matched = true
			}
		}
		if !matched {
			added[len(combos)] = n
			combos = append(combos, merge(nil, inc))
		}
	}
	if len(combos) > MaxMatrixCells {
		d.c.add(mx.Pos, path, "the matrix has %d cells, more than %d (limit %q is %d); split it, or exclude cells",
			len(combos), MaxMatrixCells, "max matrix cells", MaxMatrixCells)
		return
	}
	seen := map[string]int{}
	for i, c := range combos {
		cell := Cell{Name: cellName(name, sortCell(c, names)), Values: sortCell(c, names)}
		if len(cell.Name) > MaxCellNameLength {
			d.c.add(mx.Pos, path, "the cell name %q is longer than %d bytes (limit %q is %d); use shorter values",
				cell.Name, MaxCellNameLength, "max cell name length", MaxCellNameLength)
			return
		}
		if j, dup := seen[cell.Name]; dup {
			k := added[i]
			d.c.add(entryPos(src.include, k), index(join(path, "include"), k), "repeats the cell %s (cell %d)", cell.Name, j+1)
			continue
		}
		seen[cell.Name] = i
		mx.Cells = append(mx.Cells, cell)
	}
}

// matches reports whether cell agrees with every value of entry; with
// only, just the values of the variables listed in only count.
func matches(cell, entry []MatrixValue, only []string) bool {
	for _, kv := range entry {
		if only != nil && !slices.Contains(only, kv.Name) {
			continue
		}
		i := slices.IndexFunc(cell, func(c MatrixValue) bool { return c.Name == kv.Name })
		if i < 0 || cell[i].Value != kv.Value {
			return false
		}
	}
	return true
}

// merge sets entry's values in cell, adding the variables it lacks.
func merge(cell, entry []MatrixValue) []MatrixValue {
	out := slices.Clone(cell)
	for _, kv := range entry {
		if i := slices.IndexFunc(out, func(c MatrixValue) bool { return c.Name == kv.Name }); i >= 0 {
			out[i].Value = kv.Value
		} else {
			out = append(out, kv)
		}
	}
	return out
}

// sortCell orders a cell's values as the matrix's variables, then the
// variables include added in the order written.
func sortCell(c []MatrixValue, names []string) []MatrixValue {
	out := make([]MatrixValue, 0, len(c))
	for _, n := range names {
		if i := slices.IndexFunc(c, func(v MatrixValue) bool { return v.Name == n }); i >= 0 {
			out = append(out, c[i])
		}
	}
	for _, v := range c {
		if !slices.Contains(names, v.Name) {
			out = append(out, v)
		}
	}
	return out
}

// cellName is ACTION@NAME=VALUE,NAME=VALUE: "@", "=" and "," never occur
// in a written name, so no cell can clash with an action, and the name
// needs no quoting in a shell, a URL path or a file name.
func cellName(action string, values []MatrixValue) string {
	var b strings.Builder
	b.WriteString(action)
	for i, v := range values {
		b.WriteByte([...]byte{'@', ','}[min(i, 1)])
		b.WriteString(v.Name + "=" + v.Value)
	}
	return b.String()
}

// checkMatrixEnv refuses env and secrets that set a variable the matrix
// sets: one of the two would silently lose.
func (d *decoder) checkMatrixEnv(a *Action, path string) {
	for _, name := range conditionOptions(a.Matrix).Matrix {
		v := MatrixEnvName(name)
		if _, set := a.Env[v]; set {
			d.c.add(a.Matrix.Pos, path, "the matrix sets %s, which env sets too; remove it from env", v)
		}
		if slices.Contains(a.Secrets, v) {
			d.c.add(a.Matrix.Pos, path, "the matrix sets %s, which is also listed in secrets", v)
		}
	}
}

// size is how many actions a becomes: one per cell with a matrix.
func (a *Action) size() int {
	if a.Matrix != nil && len(a.Matrix.Cells) > 0 {
		return len(a.Matrix.Cells)
	}
	return 1
}

package workflow

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/md5"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/velocity-ci/velocity/internal/workflow/asl"
	"github.com/velocity-ci/velocity/internal/workflow/jsonvalue"
	"github.com/velocity-ci/velocity/internal/workflow/payload"
)

// readItems reads a Map's items from a local file named by the
// ItemReader's Parameters: Bucket is a directory below the Interpreter's
// BaseDir and Key a file below it (or Prefix, for listObjectsV2, the
// start of the names to list). With the Interpreter's Objects, Bucket
// and Key name an S3 object instead.
func (s *scope) readItems(ctx context.Context, v *visit, in, ctxObj any) ([]any, error) {
	st := v.st
	r := st.def.ItemReader
	fail := func(format string, args ...any) error {
		return asl.Failf(asl.ErrItemReaderFailed, "%s", fmt.Sprintf(format, args...))
	}
	params := &jsonvalue.Object{}
	if st.jreaderArgs != nil {
		val, err := s.jeval(v, "ItemReader/Arguments", st.jreaderArgs, ctxObj, jstates{input: v.input})
		if err != nil {
			return nil, err
		}
		m, ok := val.(*jsonvalue.Object)
		if !ok {
			return nil, fail("ItemReader Arguments must be an object, not %s", jsonString(val))
		}
		params = m
	} else if st.readerParameters != nil {
		val, err := st.readerParameters.Eval(in, ctxObj)
		if err != nil {
			return nil, s.stateFailure(v, err)
		}
		m, ok := val.(*jsonvalue.Object)
		if !ok {
			return nil, fail("ItemReader Parameters must be an object, not %s", jsonString(val))
		}
		params = m
	}
	str := func(k string) string { v, _ := params.Get(k); s, _ := v.(string); return s }
	objects := s.run.in.Objects
	dir := ""
	if objects == nil {
		var err error
		if dir, err = s.run.localPath(str("Bucket")); err != nil {
			return nil, fail("%v", err)
		}
	}
	cfg := r.ReaderConfig
	if cfg == nil {
		cfg = &asl.ReaderConfig{}
	}
	maxItems := int64(0)
	if cfg.MaxItems != nil {
		maxItems = *cfg.MaxItems
	} else if n, ok, err := s.jnumber(v, "ItemReader/ReaderConfig/MaxItems", ctxObj, in, 0, maxCount, true); err != nil {
		return nil, err
	} else if ok {
		maxItems = int64(n)
	} else if st.readerMaxItemsPath != nil {
		val, err := s.getPath(v, st.readerMaxItemsPath, in, ctxObj)
		if err != nil {
			return nil, err
		}
		n, ok := positiveInt(val)
		if !ok {
			return nil, s.invalidValue(v, "MaxItemsPath", val)
		}
		maxItems = n
	}

	var items []any
	var err error
	key := str("Key")
	if key == "" {
		key = str("Path")
	}
	switch {
	case objects != nil && strings.HasSuffix(r.Resource, "listObjectsV2"):
		items, err = objects.ListObjects(ctx, str("Bucket"), str("Prefix"))
	case objects != nil:
		var data []byte
		if data, err = objects.GetObject(ctx, str("Bucket"), key); err == nil {
			items, err = parseItems("s3://"+str("Bucket")+"/"+key, data, cfg)
		}
	case strings.HasSuffix(r.Resource, "listObjectsV2"):
		items, err = listObjects(dir, str("Prefix"))
	default:
		file, perr := safeJoin(dir, key)
		if perr != nil {
			return nil, fail("%v", perr)
		}
		if strings.EqualFold(cfg.InputType, "MANIFEST") {
			items, err = readManifest(dir, file)
		} else {
			items, err = readItemFile(file, cfg)
		}
	}
	if err != nil {
		return nil, fail("%v", err)
	}
	if maxItems > 0 && int64(len(items)) > maxItems {
		items = items[:maxItems]
	}
	return items, nil
}

// localPath resolves a Bucket below BaseDir.
func (x *execution) localPath(bucket string) (string, error) {
	base := x.in.BaseDir
	if base == "" {
		base = "."
	}
	return safeJoin(base, bucket)
}

// safeJoin joins name below dir, refusing names that climb out of it.
func safeJoin(dir, name string) (string, error) {
	if name == "" {
		return dir, nil
	}
	clean := filepath.Clean(filepath.FromSlash(name))
	if filepath.IsAbs(clean) || clean == ".." || strings.HasPrefix(clean, ".."+string(filepath.Separator)) {
		return "", fmt.Errorf("item file %q is outside %s", name, dir)
	}
	return filepath.Join(dir, clean), nil
}

func readItemFile(file string, cfg *asl.ReaderConfig) ([]any, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read items: %w", err)
	}
	return parseItems(file, data, cfg)
}

// parseItems reads the items of a JSON, JSON Lines or CSV file's data;
// file names it in errors and, by its extension, gives the default type.
func parseItems(file string, data []byte, cfg *asl.ReaderConfig) ([]any, error) {
	kind := strings.ToUpper(cfg.InputType)
	if kind == "" {
		switch strings.ToLower(filepath.Ext(file)) {
		case ".csv":
			kind = "CSV"
		case ".jsonl", ".ndjson":
			kind = "JSONL"
		default:
			kind = "JSON"
		}
	}
	switch kind {
	case "JSON":
		val, err := payload.Decode(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		if cfg.ItemsPointer != "" {
			if val, err = jsonPointer(val, cfg.ItemsPointer); err != nil {
				return nil, fmt.Errorf("%s: ItemsPointer %s: %w", file, cfg.ItemsPointer, err)
			}
		}
		items, ok := val.([]any)
		if !ok {
			// Step Functions' words for a JSON source without an array.
			return nil, errors.New("Attempting to map over non-iterable node.")
		}
		return items, nil
	case "JSONL":
		var items []any
		sc := bufio.NewScanner(bytes.NewReader(data))
		sc.Buffer(make([]byte, 64*1024), 256*1024*1024)
		line := 0
		for sc.Scan() {
			line++
			text := bytes.TrimSpace(sc.Bytes())
			if len(text) == 0 {
				continue
			}
			val, err := payload.Decode(text)
			if err != nil {
				return nil, fmt.Errorf("%s:%d: %w", file, line, err)
			}
			items = append(items, val)
		}
		return items, sc.Err()
	case "CSV":
		return readCSV(file, data, cfg)
	}
	return nil, fmt.Errorf("ReaderConfig InputType %q is not JSON, JSONL or CSV", cfg.InputType)
}

// inventoryManifest is the manifest.json of an S3 inventory report: the
// CSV files it lists hold one object per row, without a header, in the
// columns fileSchema names.
type inventoryManifest struct {
	FileFormat string `json:"fileFormat"`
	FileSchema string `json:"fileSchema"`
	Files      []struct {
		Key string `json:"key"`
	} `json:"files"`
}

// readManifest reads the items of an S3 inventory (InputType MANIFEST):
// each row of each file the manifest lists, as an object keyed by the
// columns of its fileSchema, values as strings, as Step Functions hands
// them to the iterations. The files' keys name files below dir, the
// Bucket, as on S3 they name objects of the inventory's bucket; they
// may be gzip-compressed, as S3 writes them, or not.
func readManifest(dir, file string) ([]any, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read manifest: %w", err)
	}
	var m inventoryManifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("%s is not an S3 inventory manifest: %w", file, err)
	}
	if !strings.EqualFold(m.FileFormat, "CSV") {
		return nil, fmt.Errorf("%s: the inventory's fileFormat is %q; Step Functions reads CSV inventories only", file, m.FileFormat)
	}
	var columns []string
	for _, c := range strings.Split(m.FileSchema, ",") {
		if c = strings.TrimSpace(c); c != "" {
			columns = append(columns, c)
		}
	}
	if len(columns) == 0 {
		return nil, fmt.Errorf("%s: the manifest has no fileSchema naming the columns", file)
	}
	cfg := &asl.ReaderConfig{CSVHeaderLocation: "GIVEN", CSVHeaders: columns}
	var items []any
	for _, f := range m.Files {
		path, err := safeJoin(dir, f.Key)
		if err != nil {
			return nil, err
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("read inventory file listed in %s: %w", file, err)
		}
		if bytes.HasPrefix(raw, []byte{0x1f, 0x8b}) {
			zr, err := gzip.NewReader(bytes.NewReader(raw))
			if err != nil {
				return nil, fmt.Errorf("%s: %w", path, err)
			}
			if raw, err = io.ReadAll(zr); err != nil {
				return nil, fmt.Errorf("%s: %w", path, err)
			}
		}
		rows, err := readCSV(path, raw, cfg)
		if err != nil {
			return nil, err
		}
		items = append(items, rows...)
	}
	return items, nil
}

// readCSV makes each row an object keyed by the headers: the first row
// (CSVHeaderLocation FIRST_ROW, the default) or CSVHeaders (GIVEN).
// Values stay strings, as in AWS.
func readCSV(file string, data []byte, cfg *asl.ReaderConfig) ([]any, error) {
	rd := csv.NewReader(bytes.NewReader(data))
	rd.FieldsPerRecord = -1
	if cfg.CSVDelimiter != "" {
		switch cfg.CSVDelimiter {
		case "COMMA":
			rd.Comma = ','
		case "PIPE":
			rd.Comma = '|'
		case "SEMICOLON":
			rd.Comma = ';'
		case "SPACE":
			rd.Comma = ' '
		case "TAB":
			rd.Comma = '\t'
		default:
			rd.Comma = []rune(cfg.CSVDelimiter)[0]
		}
	}
	headers := cfg.CSVHeaders
	given := strings.EqualFold(cfg.CSVHeaderLocation, "GIVEN")
	var items []any
	for {
		row, err := rd.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		if !given && headers == nil {
			headers = row
			continue
		}
		// Columns in the header's order, as Step Functions gives them.
		obj := jsonvalue.NewObject(len(headers))
		for i, h := range headers {
			val := ""
			if i < len(row) {
				val = row[i]
			}
			obj.Set(h, val)
		}
		items = append(items, obj)
	}
	return items, nil
}

// listObjects lists the files below dir whose names start with prefix,
// like S3's ListObjectsV2 contents.
func listObjects(dir, prefix string) ([]any, error) {
	var items []any
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		key := filepath.ToSlash(rel)
		if !strings.HasPrefix(key, prefix) {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		sum := md5.Sum(data)
		items = append(items, object(
			"Etag", `"`+hex.EncodeToString(sum[:])+`"`,
			"Key", key,
			"LastModified", jsonInt(info.ModTime().Unix()),
			"Size", jsonInt(info.Size()),
			"StorageClass", "STANDARD",
		))
		return nil
	})
	return items, err
}

// jsonPointer follows an RFC 6901 pointer ("/a/0/b") into v.
func jsonPointer(v any, ptr string) (any, error) {
	if ptr == "" {
		return v, nil
	}
	if !strings.HasPrefix(ptr, "/") {
		return nil, errors.New("a JSON pointer starts with /")
	}
	for _, tok := range strings.Split(ptr[1:], "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		switch c := v.(type) {
		case *jsonvalue.Object:
			next, ok := c.Get(tok)
			if !ok {
				return nil, fmt.Errorf("no member %q", tok)
			}
			v = next
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(c) {
				return nil, fmt.Errorf("no element %q", tok)
			}
			v = c[i]
		default:
			return nil, fmt.Errorf("%q is inside a value that is not an object or array", tok)
		}
	}
	return v, nil
}

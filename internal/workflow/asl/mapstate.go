package asl

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Rules of the Map state beyond single fields: its processor, the fields
// that exclude each other, and the fields only a Distributed Map has.

// Resources an ItemReader reads with; locally they read files.
const (
	ResourceGetObject     = "arn:aws:states:::s3:getObject"
	ResourceListObjectsV2 = "arn:aws:states:::s3:listObjectsV2"
)

func (v *validator) mapRules(n *node, ptr string) {
	proc, iter := n.field("ItemProcessor"), n.field("Iterator")
	switch {
	case proc == nil && iter == nil:
		v.r.add(n.pos, ptr, `missing required field "ItemProcessor" (the state machine run for each item)`)
	case proc != nil && iter != nil:
		v.r.add(iter.keyPos, pointerJoin(ptr, "Iterator"), `"Iterator" is the older name of "ItemProcessor"; keep only "ItemProcessor"`)
	}
	if sel, par := n.field("ItemSelector"), n.field("Parameters"); sel != nil && par != nil {
		v.r.add(par.keyPos, pointerJoin(ptr, "Parameters"), `a Map's "Parameters" is the older name of "ItemSelector"; keep only "ItemSelector"`)
	}
	v.exclusive(n, ptr, "Items", "ItemsPath")
	v.exclusive(n, ptr, "ItemReader", "ItemsPath")
	v.exclusive(n, ptr, "MaxConcurrency", "MaxConcurrencyPath")
	v.exclusive(n, ptr, "ToleratedFailurePercentage", "ToleratedFailurePercentagePath")
	v.exclusive(n, ptr, "ToleratedFailureCount", "ToleratedFailureCountPath")

	mode := ""
	if proc != nil {
		if m := proc.value.get("ProcessorConfig").get("Mode"); m != nil && m.kind == kindString {
			mode = m.text
		}
	}
	if mode == "DISTRIBUTED" {
		return
	}
	// AWS accepts these only in a Distributed Map; requiring the mode
	// keeps definitions portable to it.
	for _, key := range []string{"ItemReader", "ItemBatcher", "ResultWriter", "ToleratedFailurePercentage",
		"ToleratedFailurePercentagePath", "ToleratedFailureCount", "ToleratedFailureCountPath", "Label"} {
		if f := n.field(key); f != nil {
			v.r.add(f.keyPos, pointerJoin(ptr, key), `%q needs a Distributed Map: set "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"} in the ItemProcessor`, key)
		}
	}
}

func (v *validator) itemReader(n *node, ptr string) {
	if !v.object(n, ptr) {
		return
	}
	v.knownFields(n, ptr, itemReaderFields, nil)
	resource := ""
	if r := n.get("Resource"); r != nil {
		resource, _ = v.enum(r, pointerJoin(ptr, "Resource"), ResourceGetObject, ResourceListObjectsV2)
	} else {
		v.r.add(n.pos, ptr, `missing required field "Resource" (%s or %s)`, ResourceGetObject, ResourceListObjectsV2)
	}
	for _, f := range n.fields {
		fp := pointerJoin(ptr, f.key)
		switch {
		case f.key == "Parameters" && v.lang == JSONata:
			v.r.add(f.keyPos, fp, `field "Parameters" belongs to the JSONPath query language and is not allowed in a JSONata state; use "Arguments"`)
		case f.key == "Parameters":
			v.template(f.value, fp, true)
		case f.key == "Arguments" && v.lang != JSONata:
			v.r.add(f.keyPos, fp, `field "Arguments" belongs to the JSONata query language and is not allowed in a JSONPath state; set "QueryLanguage": "JSONata" on the state or at the top level`)
		case f.key == "Arguments":
			v.jsonataField(f, fp)
		}
	}
	rc := n.get("ReaderConfig")
	rp := pointerJoin(ptr, "ReaderConfig")
	if rc == nil {
		if resource == ResourceGetObject {
			v.r.add(n.pos, ptr, `missing "ReaderConfig" with "InputType" (JSON, JSONL, CSV or MANIFEST) to say how %s reads the file`, ResourceGetObject)
		}
		return
	}
	if !v.object(rc, rp) {
		return
	}
	v.knownFields(rc, rp, readerConfigFields, nil)
	inputType := ""
	for _, f := range rc.fields {
		fp := pointerJoin(rp, f.key)
		switch f.key {
		case "InputType":
			inputType, _ = v.enum(f.value, fp, "CSV", "JSON", "JSONL", "MANIFEST", "PARQUET")
			if inputType == "PARQUET" {
				v.r.add(f.value.pos, fp, "InputType PARQUET is not supported yet; write the items as CSV, JSON or JSONL")
			}
		case "CSVHeaderLocation":
			v.enum(f.value, fp, "FIRST_ROW", "GIVEN")
		case "CSVHeaders":
			if v.array(f.value, fp) {
				for i, it := range f.value.items {
					v.nonEmpty(it, pointerIndex(fp, i))
				}
			}
		case "CSVDelimiter":
			v.enum(f.value, fp, "COMMA", "PIPE", "SEMICOLON", "SPACE", "TAB")
		case "MaxItems":
			if !v.jsonataSize(f.value, fp) {
				v.integer(f.value, fp, 0, maxCount)
			}
		case "MaxItemsPath":
			if v.jsonPathOnlyIn(f, fp, `write "MaxItems"`) {
				v.reference(f.value, fp, true)
			}
		case "ItemsPointer":
			if s, ok := v.str(f.value, fp); ok && s != "" && !strings.HasPrefix(s, "/") {
				v.r.add(f.value.pos, fp, "must be a JSON pointer such as /items, got %q", s)
			}
		case "ManifestType":
			if t, _ := v.enum(f.value, fp, "S3_INVENTORY", "ATHENA_DATA"); t == "ATHENA_DATA" {
				v.r.add(f.value.pos, fp, `ManifestType ATHENA_DATA is not supported yet; list the files in an S3 inventory manifest ("InputType": "MANIFEST")`)
			}
		case "Transformation":
			v.nonEmpty(f.value, fp)
		}
	}
	v.exclusive(rc, rp, "MaxItems", "MaxItemsPath")
	if resource == ResourceGetObject && rc.get("InputType") == nil {
		v.r.add(rc.pos, rp, `missing required field "InputType" (JSON, JSONL, CSV or MANIFEST)`)
	}
	loc := rc.get("CSVHeaderLocation")
	for _, key := range []string{"CSVHeaderLocation", "CSVHeaders", "CSVDelimiter"} {
		if f := rc.field(key); f != nil && inputType != "" && inputType != "CSV" {
			v.r.add(f.keyPos, pointerJoin(rp, key), "%q applies only to InputType CSV, not %s", key, inputType)
		}
	}
	given := loc != nil && loc.kind == kindString && loc.text == "GIVEN"
	headers := rc.field("CSVHeaders")
	switch {
	case given && headers == nil:
		v.r.add(loc.pos, pointerJoin(rp, "CSVHeaderLocation"), `CSVHeaderLocation GIVEN needs "CSVHeaders", the column names`)
	case !given && headers != nil && (inputType == "" || inputType == "CSV"):
		v.r.add(headers.keyPos, pointerJoin(rp, "CSVHeaders"), `"CSVHeaders" needs "CSVHeaderLocation": "GIVEN" (otherwise the first row names the columns)`)
	}
}

func (v *validator) itemBatcher(n *node, ptr string) {
	if !v.object(n, ptr) {
		return
	}
	v.knownFields(n, ptr, itemBatcherFields, nil)
	for _, f := range n.fields {
		fp := pointerJoin(ptr, f.key)
		switch f.key {
		case "MaxItemsPerBatch":
			if !v.jsonataSize(f.value, fp) {
				v.integer(f.value, fp, 1, maxCount)
			}
		case "MaxInputBytesPerBatch":
			// AWS caps a batch at 256 KiB.
			if !v.jsonataSize(f.value, fp) {
				v.integer(f.value, fp, 1, 262144)
			}
		case "MaxItemsPerBatchPath", "MaxInputBytesPerBatchPath":
			if v.jsonPathOnlyIn(f, fp, "write "+quote(strings.TrimSuffix(f.key, "Path"))) {
				v.reference(f.value, fp, true)
			}
		case "BatchInput":
			if v.lang == JSONata {
				v.jsonataField(&field{key: "Arguments", keyPos: f.keyPos, value: f.value}, fp)
			} else {
				v.template(f.value, fp, true)
			}
		}
	}
	v.exclusive(n, ptr, "MaxItemsPerBatch", "MaxItemsPerBatchPath")
	v.exclusive(n, ptr, "MaxInputBytesPerBatch", "MaxInputBytesPerBatchPath")
	if n.get("MaxItemsPerBatch") == nil && n.get("MaxItemsPerBatchPath") == nil &&
		n.get("MaxInputBytesPerBatch") == nil && n.get("MaxInputBytesPerBatchPath") == nil {
		v.r.add(n.pos, ptr, `needs "MaxItemsPerBatch" or "MaxInputBytesPerBatch" (or their Path forms) to size the batches`)
	}
}

func (v *validator) resultWriter(n *node, ptr string) {
	if !v.object(n, ptr) {
		return
	}
	v.knownFields(n, ptr, resultWriterFields, nil)
	for _, f := range n.fields {
		fp := pointerJoin(ptr, f.key)
		switch {
		case f.key == "Resource":
			v.enum(f.value, fp, "arn:aws:states:::s3:putObject")
		case f.key == "Parameters" && v.lang == JSONata:
			v.r.add(f.keyPos, fp, `field "Parameters" belongs to the JSONPath query language and is not allowed in a JSONata state; use "Arguments"`)
		case f.key == "Parameters":
			v.template(f.value, fp, true)
		case f.key == "Arguments" && v.lang != JSONata:
			v.r.add(f.keyPos, fp, `field "Arguments" belongs to the JSONata query language and is not allowed in a JSONPath state; set "QueryLanguage": "JSONata" on the state or at the top level`)
		case f.key == "Arguments":
			v.jsonataField(f, fp)
		case f.key == "WriterConfig":
			if v.object(f.value, fp) {
				v.knownFields(f.value, fp, writerConfigFields, nil)
				if o := f.value.get("OutputType"); o != nil {
					v.enum(o, pointerJoin(fp, "OutputType"), "JSON", "JSONL")
				}
				if t := f.value.get("Transformation"); t != nil {
					v.enum(t, pointerJoin(fp, "Transformation"), "NONE", "COMPACT", "FLATTEN")
				}
			}
		}
	}
	args := "Parameters"
	if v.lang == JSONata {
		args = "Arguments"
	}
	if n.get("Resource") != nil && n.get(args) == nil {
		v.r.add(n.pos, ptr, `missing required field %q (Bucket and Prefix of the results)`, args)
	}
}

// maxLabel is AWS's limit on a Map Label's length.
const maxLabel = 40

// label checks a Map's Label: short, unique, and free of the characters
// AWS forbids because the label becomes part of child execution names.
func (v *validator) label(n *node, ptr string) {
	s, ok := v.nonEmpty(n, ptr)
	if !ok {
		return
	}
	if utf8.RuneCountInString(s) > maxLabel {
		v.r.add(n.pos, ptr, "Label is %d characters long; AWS allows at most %d", utf8.RuneCountInString(s), maxLabel)
	}
	for _, c := range s {
		if unicode.IsSpace(c) || unicode.IsControl(c) || strings.ContainsRune(`<>{}[]?*"#%\^|~`+"`"+`$&,;:/`, c) {
			v.r.add(n.pos, ptr, "Label %q contains %q; labels cannot hold whitespace, brackets, wildcards or special characters", s, c)
			break
		}
	}
	if at, dup := v.labels[s]; dup {
		v.r.add(n.pos, ptr, "Label %q is already used by the Map at line %d; labels must be unique", s, at.line)
	} else {
		v.labels[s] = n.pos
	}
}

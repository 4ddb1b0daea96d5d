package secret

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

func open(t *testing.T, dir, envKey string) *Store {
	t.Helper()
	s, err := Open(dir, envKey)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mustSet(t *testing.T, s *Store, name, value string) {
	t.Helper()
	if err := s.Set(name, []byte(value)); err != nil {
		t.Fatal(err)
	}
}

func mustGet(t *testing.T, s *Store, name, want string) {
	t.Helper()
	v, err := s.Get(name)
	if err != nil {
		t.Fatal(err)
	}
	if string(v) != want {
		t.Fatalf("Get(%s) = %q, want %q", name, v, want)
	}
}

// editFile applies fn to the decoded secrets.json in dir.
func editFile(t *testing.T, dir string, fn func(f *file)) {
	t.Helper()
	f, err := readFile(dir)
	if err != nil {
		t.Fatal(err)
	}
	fn(f)
	if err := writeFile(dir, f); err != nil {
		t.Fatal(err)
	}
}

func TestStoreRoundTrip(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, "")
	if names, err := s.List(); err != nil || len(names) != 0 {
		t.Fatalf("empty store: List = %v, %v", names, err)
	}
	mustSet(t, s, "TOKEN", "t0k3n")
	mustSet(t, s, "A_KEY", "line one\nline two\n")
	mustSet(t, s, "_x9", "\x00binary\xff")
	mustGet(t, s, "TOKEN", "t0k3n")
	mustGet(t, s, "A_KEY", "line one\nline two\n")
	mustGet(t, s, "_x9", "\x00binary\xff")
	names, err := s.List()
	if err != nil || !slices.Equal(names, []string{"A_KEY", "TOKEN", "_x9"}) {
		t.Fatalf("List = %v, %v", names, err)
	}

	mustSet(t, s, "TOKEN", "changed")
	mustGet(t, s, "TOKEN", "changed")

	// Another Store on the directory (another velocity process) reads
	// them with the key file.
	mustGet(t, open(t, dir, ""), "TOKEN", "changed")

	if err := s.Remove("TOKEN"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get("TOKEN"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get after Remove: %v", err)
	}
	if err := s.Remove("TOKEN"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second Remove: %v", err)
	}
	if _, err := s.Fingerprint("TOKEN"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Fingerprint after Remove: %v", err)
	}
	if names, _ := s.List(); !slices.Equal(names, []string{"A_KEY", "_x9"}) {
		t.Fatalf("List after Remove = %v", names)
	}
}

func TestStoreRejectsBadNamesAndValues(t *testing.T) {
	s := open(t, t.TempDir(), "")
	for _, name := range []string{"", "1A", "A-B", "A B", "A=B", "é", "A\n"} {
		if err := s.Set(name, []byte("v")); err == nil || !strings.Contains(err.Error(), "invalid secret name") {
			t.Errorf("Set(%q): %v", name, err)
		}
		if _, err := s.Get(name); err == nil || errors.Is(err, ErrNotFound) {
			t.Errorf("Get(%q): %v", name, err)
		}
	}
	if err := s.Set("EMPTY", nil); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Errorf("empty value: %v", err)
	}
	if err := s.Set("BIG", make([]byte, MaxValueSize+1)); err == nil || !strings.Contains(err.Error(), "64 KiB") {
		t.Errorf("too big: %v", err)
	}
	big := bytes.Repeat([]byte{'x'}, MaxValueSize)
	if err := s.Set("BIG", big); err != nil {
		t.Errorf("largest value: %v", err)
	}
	mustGet(t, s, "BIG", string(big))
}

func TestStoreFileHoldsNoValue(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, "")
	value := []byte("correct-horse-battery-staple-0123456789")
	if err := s.Set("PASSWORD", value); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, dataName))
	if err != nil {
		t.Fatal(err)
	}
	for _, form := range []string{
		string(value),
		base64.StdEncoding.EncodeToString(value),
		base64.RawStdEncoding.EncodeToString(value),
		base64.URLEncoding.EncodeToString(value),
		hex.EncodeToString(value),
		"horse-battery", // any sizeable piece of it
	} {
		if bytes.Contains(raw, []byte(form)) {
			t.Errorf("secrets.json contains %q", form)
		}
	}
	if !bytes.Contains(raw, []byte(`"PASSWORD"`)) {
		t.Errorf("secrets.json does not name the secret:\n%s", raw)
	}
}

func TestStoreKeyFile(t *testing.T) {
	dir := t.TempDir()
	keyPath := filepath.Join(dir, keyName)
	s := open(t, dir, "")
	// Opening costs nothing: a run without secrets makes no key.
	if _, err := os.Stat(keyPath); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("key file made by Open: %v", err)
	}
	mustSet(t, s, "A", "1")
	for _, name := range []string{keyName, dataName} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %04o, want 0600", name, fi.Mode().Perm())
		}
	}
	if fi, _ := os.Stat(keyPath); fi.Size() != keySize {
		t.Errorf("key file holds %d bytes", fi.Size())
	}
	if tmps, _ := filepath.Glob(filepath.Join(dir, ".*.tmp")); len(tmps) > 0 {
		t.Errorf("temporary files left: %v", tmps)
	}

	for _, mode := range []os.FileMode{0o640, 0o604, 0o660, 0o610} {
		if err := os.Chmod(keyPath, mode); err != nil {
			t.Fatal(err)
		}
		_, err := open(t, dir, "").Get("A")
		if err == nil || !strings.Contains(err.Error(), "chmod 600 "+keyPath) {
			t.Errorf("mode %04o: Get: %v", mode, err)
		}
		if err := open(t, dir, "").Set("B", []byte("2")); err == nil || !strings.Contains(err.Error(), "chmod 600") {
			t.Errorf("mode %04o: Set: %v", mode, err)
		}
	}
	os.Chmod(keyPath, 0o400)
	mustGet(t, open(t, dir, ""), "A", "1")

	os.WriteFile(filepath.Join(dir, "short.key"), []byte("abc"), 0o600)
	if _, err := readKey(filepath.Join(dir, "short.key")); err == nil || !strings.Contains(err.Error(), "3 bytes") {
		t.Errorf("short key file: %v", err)
	}
}

func TestStoreMissingKeyFileIsNotReplaced(t *testing.T) {
	dir := t.TempDir()
	mustSet(t, open(t, dir, ""), "A", "1")
	if err := os.Remove(filepath.Join(dir, keyName)); err != nil {
		t.Fatal(err)
	}
	s := open(t, dir, "")
	if _, err := s.Get("A"); err == nil || !strings.Contains(err.Error(), "no key: "+EnvKey+" is not set and "+filepath.Join(dir, keyName)+" is missing") {
		t.Errorf("Get: %v", err)
	}
	if err := s.Set("B", []byte("2")); err == nil || !strings.Contains(err.Error(), "is missing") {
		t.Errorf("Set: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, keyName)); err == nil {
		t.Error("a new key file was made while secrets need the old one")
	}
	// Once the unreadable secrets are removed, a new key is made.
	if err := s.Remove("A"); err != nil {
		t.Fatal(err)
	}
	mustSet(t, s, "B", "2")
	mustGet(t, open(t, dir, ""), "B", "2")
}

func TestStoreEnvKeyForms(t *testing.T) {
	// 0xfb 0xff makes base64 use '+' and '/' (or '-' and '_'), so the
	// standard and URL alphabets differ.
	key := bytes.Repeat([]byte{0xfb, 0xff}, keySize/2)
	forms := []string{
		hex.EncodeToString(key),
		strings.ToUpper(hex.EncodeToString(key)),
		base64.StdEncoding.EncodeToString(key),
		base64.URLEncoding.EncodeToString(key),
		base64.RawStdEncoding.EncodeToString(key),
		base64.RawURLEncoding.EncodeToString(key),
		" " + hex.EncodeToString(key) + "\n", // from a file, or `echo`
	}
	dir := t.TempDir()
	mustSet(t, open(t, dir, forms[0]), "A", "1")
	for _, form := range forms {
		mustGet(t, open(t, dir, form), "A", "1")
	}
	if _, err := os.Stat(filepath.Join(dir, keyName)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("key file made although the key came from the environment: %v", err)
	}

	bad := []string{
		"secret",
		hex.EncodeToString(key)[:63],
		hex.EncodeToString(key) + "00",
		strings.Repeat("g", 64),
		base64.StdEncoding.EncodeToString(key[:16]),
		base64.StdEncoding.EncodeToString(append(key, 1)),
	}
	for _, b := range bad {
		_, err := Open(dir, b)
		if err == nil {
			t.Errorf("Open accepted key %q", b)
			continue
		}
		msg := err.Error()
		if !strings.Contains(msg, EnvKey) || !strings.Contains(msg, "64 hex characters") || !strings.Contains(msg, "base64") {
			t.Errorf("unclear error for %q: %s", b, msg)
		}
		if len(b) > 8 && strings.Contains(msg, b) {
			t.Errorf("error repeats the key: %s", msg)
		}
	}
}

func TestStoreWrongKey(t *testing.T) {
	key1 := strings.Repeat("11", keySize)
	key2 := strings.Repeat("22", keySize)
	dir := t.TempDir()
	mustSet(t, open(t, dir, key1), "TOKEN", "t0k3n")
	mustSet(t, open(t, dir, key1), "OTHER", "other")

	s := open(t, dir, key2)
	v, err := s.Get("TOKEN")
	if !errors.Is(err, ErrWrongKey) || v != nil {
		t.Fatalf("Get with the wrong key = %q, %v", v, err)
	}
	want := "cannot decrypt secret TOKEN: the key is not the one it was stored with"
	if !strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), EnvKey) {
		t.Errorf("error = %q, want it to start %q and name %s", err, want, EnvKey)
	}
	if _, err := s.Fingerprint("TOKEN"); !errors.Is(err, ErrWrongKey) {
		t.Errorf("Fingerprint: %v", err)
	}
	// Set must not mix keys in one file.
	if err := s.Set("NEW", []byte("x")); !errors.Is(err, ErrWrongKey) {
		t.Errorf("Set with the wrong key: %v", err)
	}
	mustGet(t, open(t, dir, key1), "TOKEN", "t0k3n")

	// The key file is a key like any other.
	os.WriteFile(filepath.Join(dir, keyName), bytes.Repeat([]byte{3}, keySize), 0o600)
	if _, err := open(t, dir, "").Get("TOKEN"); !errors.Is(err, ErrWrongKey) || !strings.Contains(err.Error(), keyName) {
		t.Errorf("Get with the key file: %v", err)
	}

	// Names can be listed and removed without the key, after which the
	// new key takes over.
	if names, err := s.List(); err != nil || len(names) != 2 {
		t.Errorf("List = %v, %v", names, err)
	}
	for _, name := range []string{"TOKEN", "OTHER"} {
		if err := s.Remove(name); err != nil {
			t.Fatal(err)
		}
	}
	mustSet(t, s, "TOKEN", "new")
	mustGet(t, open(t, dir, key2), "TOKEN", "new")
}

func TestStoreDetectsTampering(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, "")
	mustSet(t, s, "A", "alpha-value")
	mustSet(t, s, "B", "bravo-value")

	damaged := func(name string) {
		t.Helper()
		v, err := s.Get(name)
		if err == nil || v != nil {
			t.Fatalf("Get(%s) = %q, %v; want an error", name, v, err)
		}
		if errors.Is(err, ErrWrongKey) || !strings.Contains(err.Error(), "cannot decrypt secret "+name) || !strings.Contains(err.Error(), "altered") {
			t.Fatalf("Get(%s): %v", name, err)
		}
	}

	// Swapped ciphertexts: each is genuine, but not for its name.
	editFile(t, dir, func(f *file) { f.Secrets["A"], f.Secrets["B"] = f.Secrets["B"], f.Secrets["A"] })
	damaged("A")
	damaged("B")
	editFile(t, dir, func(f *file) { f.Secrets["A"], f.Secrets["B"] = f.Secrets["B"], f.Secrets["A"] })
	mustGet(t, s, "A", "alpha-value")

	// A copied ciphertext.
	editFile(t, dir, func(f *file) { f.Secrets["C"] = f.Secrets["A"] })
	damaged("C")

	// Every bit of the ciphertext (value and tag) is covered.
	orig, _ := readFile(dir)
	for i := range len(orig.Secrets["A"].Ciphertext) * 8 {
		editFile(t, dir, func(f *file) {
			ct := bytes.Clone(orig.Secrets["A"].Ciphertext)
			ct[i/8] ^= 1 << (i % 8)
			f.Secrets["A"] = sealed{Nonce: orig.Secrets["A"].Nonce, Ciphertext: ct}
		})
		damaged("A")
	}
	for _, e := range []sealed{
		{Nonce: orig.Secrets["A"].Nonce[:5], Ciphertext: orig.Secrets["A"].Ciphertext},
		{Nonce: orig.Secrets["B"].Nonce, Ciphertext: orig.Secrets["A"].Ciphertext},
		{Nonce: orig.Secrets["A"].Nonce, Ciphertext: orig.Secrets["A"].Ciphertext[:10]},
		{},
	} {
		editFile(t, dir, func(f *file) { f.Secrets["A"] = e })
		damaged("A")
	}

	os.WriteFile(filepath.Join(dir, dataName), []byte("{not json"), 0o600)
	if _, err := s.Get("A"); err == nil || !strings.Contains(err.Error(), "not a velocity secrets file") {
		t.Errorf("garbage file: %v", err)
	}
	os.WriteFile(filepath.Join(dir, dataName), []byte(`{"version": 7, "secrets": {}}`), 0o600)
	if _, err := s.List(); err == nil || !strings.Contains(err.Error(), "version 7") {
		t.Errorf("future file: %v", err)
	}
}

func TestStoreFingerprint(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, "")
	mustSet(t, s, "A", "same")
	mustSet(t, s, "B", "same")
	fp := func(s *Store, name string) string {
		t.Helper()
		f, err := s.Fingerprint(name)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	a := fp(s, "A")
	if len(a) != 64 || strings.Trim(a, "0123456789abcdef") != "" {
		t.Fatalf("fingerprint %q is not 64 hex digits", a)
	}
	if a != fp(open(t, dir, ""), "A") || a != fp(s, "B") {
		t.Error("fingerprint of one value under one key is not stable")
	}
	if a == hex.EncodeToString([]byte("same")) || strings.Contains(a, hex.EncodeToString([]byte("same"))) {
		t.Error("fingerprint shows the value")
	}
	mustSet(t, s, "A", "different")
	if fp(s, "A") == a {
		t.Error("fingerprint did not change with the value")
	}
	// Under another key, the same value has another fingerprint, so it
	// cannot be recognised across installations.
	other := open(t, t.TempDir(), strings.Repeat("ab", keySize))
	mustSet(t, other, "B", "same")
	if fp(other, "B") == fp(s, "B") {
		t.Error("fingerprint does not depend on the key")
	}
}

func TestStoreConcurrentSet(t *testing.T) {
	dir := t.TempDir()
	const n = 48
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			// A Store each, as separate processes would have; the first
			// Sets race to make the key file too.
			s, err := Open(dir, "")
			if err == nil {
				err = s.Set(fmt.Sprintf("S%d", i), []byte(fmt.Sprintf("value %d", i)))
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	checkAll(t, open(t, dir, ""), "S", n)
}

func checkAll(t *testing.T, s *Store, prefix string, n int) {
	t.Helper()
	names, err := s.List()
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		name := fmt.Sprintf("%s%d", prefix, i)
		if !slices.Contains(names, name) {
			t.Errorf("%s lost", name)
			continue
		}
		mustGet(t, s, name, fmt.Sprintf("value %d", i))
	}
}

// The helper process sets secrets for TestStoreConcurrentProcesses; run
// on its own it does nothing.
func TestStoreHelperProcess(t *testing.T) {
	dir := os.Getenv("SECRET_TEST_DIR")
	if dir == "" {
		return
	}
	prefix := os.Getenv("SECRET_TEST_PREFIX")
	n, _ := strconv.Atoi(os.Getenv("SECRET_TEST_N"))
	s := open(t, dir, "")
	for i := range n {
		mustSet(t, s, fmt.Sprintf("%s%d", prefix, i), fmt.Sprintf("value %d", i))
	}
}

func TestStoreConcurrentProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	dir := t.TempDir()
	const procs, n = 4, 25
	var cmds []*exec.Cmd
	var outs []*bytes.Buffer
	for p := range procs {
		cmd := exec.Command(os.Args[0], "-test.run=^TestStoreHelperProcess$", "-test.count=1")
		cmd.Env = append(os.Environ(), "SECRET_TEST_DIR="+dir, fmt.Sprintf("SECRET_TEST_PREFIX=P%d_", p), fmt.Sprintf("SECRET_TEST_N=%d", n))
		out := new(bytes.Buffer)
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds, outs = append(cmds, cmd), append(outs, out)
	}
	// This process writes at the same time.
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			if err := open(t, dir, "").Set(fmt.Sprintf("Q%d", i), []byte(fmt.Sprintf("value %d", i))); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	for p, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("helper %d: %v\n%s", p, err, outs[p])
		}
	}
	s := open(t, dir, "")
	for p := range procs {
		checkAll(t, s, fmt.Sprintf("P%d_", p), n)
	}
	checkAll(t, s, "Q", n)
	if names, _ := s.List(); len(names) != (procs+1)*n {
		t.Errorf("%d secrets, want %d", len(names), (procs+1)*n)
	}
}

func TestStoreFileFormat(t *testing.T) {
	// The file is plain JSON a person can inspect: names in clear,
	// values sealed.
	dir := t.TempDir()
	mustSet(t, open(t, dir, ""), "TOKEN", "t0k3n")
	raw, _ := os.ReadFile(filepath.Join(dir, dataName))
	var f struct {
		Version  int
		KeyCheck string `json:"key_check"`
		Secrets  map[string]struct{ Nonce, Ciphertext []byte }
	}
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatal(err)
	}
	e := f.Secrets["TOKEN"]
	if f.Version != 1 || len(f.KeyCheck) != 32 || len(e.Nonce) != 12 || len(e.Ciphertext) != len("t0k3n")+16 {
		t.Errorf("unexpected file:\n%s", raw)
	}
}

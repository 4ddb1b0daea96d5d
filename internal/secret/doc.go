// Package secret keeps the secrets a pipeline needs — tokens, passwords,
// keys — encrypted in the data directory, and keeps their values out of
// logs.
//
// A Store holds named secrets in secrets.json, each sealed with AES-256-GCM
// under a key that comes either from VELOCITY_SECRET_KEY (so a CI server can
// keep the key apart from the disk) or from secret.key beside the store,
// created on the first Set. The secret's name is bound into each ciphertext,
// so moving ciphertexts between names in the file is detected rather than
// handing one action another action's secret. The file also records a keyed
// check value, which lets a wrong key be told apart from a damaged file.
//
// Changes are made under an flock and land with an atomic rename, so
// several velocity processes can set secrets at once without losing any,
// and readers never see a half-written file and need no lock.
//
// A Masker sits between an action and its log and replaces every
// occurrence of a secret value with ***, including occurrences split over
// several writes, while holding back only as many bytes as could still
// turn out to be the start of a secret. Value is a []byte that prints as
// [REDACTED] through fmt, slog and encoding/json, for code that has to
// carry a secret around.
package secret

package integration

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// credentials sign requests.
type credentials struct {
	AccessKeyID, SecretAccessKey, SessionToken string
}

// awsEnv is what the AWS environment variables and shared files give:
// the region and the credentials, or where to fetch them, or why there
// are none.
type awsEnv struct {
	region   string
	creds    credentials
	credsErr error
	// fetched, when not nil, gives the credentials (creds is empty): the
	// container credentials endpoint's or instance metadata's.
	fetched *refresher
	// fromIMDS says fetched asks instance metadata, the last resort.
	fromIMDS bool
}

// loadAWSEnv reads the region and the credentials from the places the
// AWS CLI and SDKs read them first:
//
//   - credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or the
//     older AWS_ACCESS_KEY and AWS_SECRET_KEY; with AWS_SESSION_TOKEN), else the profile's aws_access_key_id,
//     aws_secret_access_key and aws_session_token in the shared
//     credentials file (AWS_SHARED_CREDENTIALS_FILE, ~/.aws/credentials),
//     else in the shared config file (AWS_CONFIG_FILE, ~/.aws/config);
//   - the profile: AWS_PROFILE, else AWS_DEFAULT_PROFILE, else default;
//   - the region: AWS_REGION, else AWS_DEFAULT_REGION, else the
//     profile's region in the config file.
//
// Without keys, credentials are fetched (see metadata.go) from the
// container credentials endpoint when AWS_CONTAINER_CREDENTIALS_* says
// where it is, else from the EC2 instance metadata service unless
// AWS_EC2_METADATA_DISABLED is true (AWS_EC2_METADATA_SERVICE_ENDPOINT
// overrides its address); nothing is fetched here, only at the first
// signed request. Other sources (roles to assume, credential_process,
// SSO, web identity) are not read: credsErr says which one was
// configured. An explicitly named profile that neither file has is an
// error, as it is for the AWS CLI.
func loadAWSEnv(getenv func(string) string) (awsEnv, error) {
	var e awsEnv
	profile, named := getenv("AWS_PROFILE"), true
	if profile == "" {
		profile = getenv("AWS_DEFAULT_PROFILE")
	}
	if profile == "" {
		profile, named = "default", false
	}
	home, _ := os.UserHomeDir()
	credFile := getenv("AWS_SHARED_CREDENTIALS_FILE")
	if credFile == "" {
		credFile = filepath.Join(home, ".aws", "credentials")
	}
	confFile := getenv("AWS_CONFIG_FILE")
	if confFile == "" {
		confFile = filepath.Join(home, ".aws", "config")
	}
	fromCreds, credsFound, err := readProfile(credFile, profile, false)
	if err != nil {
		return e, err
	}
	fromConf, confFound, err := readProfile(confFile, profile, true)
	if err != nil {
		return e, err
	}
	if named && !credsFound && !confFound {
		return e, fmt.Errorf("the profile %s is in neither %s nor %s", profile, credFile, confFile)
	}

	e.region = getenv("AWS_REGION")
	if e.region == "" {
		e.region = getenv("AWS_DEFAULT_REGION")
	}
	if e.region == "" {
		e.region = fromConf["region"]
	}

	id, secret := getenv("AWS_ACCESS_KEY_ID"), getenv("AWS_SECRET_ACCESS_KEY")
	if id == "" {
		id = getenv("AWS_ACCESS_KEY") // the older names the SDKs still read
	}
	if secret == "" {
		secret = getenv("AWS_SECRET_KEY")
	}
	if id != "" && secret != "" {
		e.creds = credentials{AccessKeyID: id, SecretAccessKey: secret, SessionToken: getenv("AWS_SESSION_TOKEN")}
		return e, nil
	}
	for _, p := range []map[string]string{fromCreds, fromConf} {
		if p["aws_access_key_id"] != "" && p["aws_secret_access_key"] != "" {
			e.creds = credentials{AccessKeyID: p["aws_access_key_id"], SecretAccessKey: p["aws_secret_access_key"], SessionToken: p["aws_session_token"]}
			return e, nil
		}
	}
	why := "no AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, and no keys for the profile " + profile + " in " + credFile + " or " + confFile
	unsupported := false
	for _, p := range []map[string]string{fromCreds, fromConf} {
		for _, k := range []string{"role_arn", "credential_process", "sso_session", "sso_start_url", "web_identity_token_file"} {
			if p[k] != "" {
				why, unsupported = fmt.Sprintf("the profile %s gets its credentials through %s, which is not supported: give keys in AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN), e.g. from `aws configure export-credentials --format env`", profile, k), true
			}
		}
	}
	if k := "AWS_WEB_IDENTITY_TOKEN_FILE"; getenv(k) != "" {
		why, unsupported = fmt.Sprintf("%s is set, but credentials from it are not supported: give keys in AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN)", k), true
	}
	if unsupported {
		// The profile names its own way to credentials: the SDKs would
		// not go on to the container or the instance either.
		e.credsErr = errors.New("no AWS credentials: " + why)
		return e, nil
	}
	fetch, ok, err := containerSource(getenv, containerEndpoint)
	if err != nil {
		e.credsErr = fmt.Errorf("no AWS credentials: %w", err)
		return e, nil
	}
	if ok {
		e.fetched = &refresher{fetch: func(ctx context.Context) (credentials, time.Time, error) {
			c, exp, err := fetch(ctx)
			if err != nil {
				return c, exp, fmt.Errorf("no AWS credentials: %w", err)
			}
			return c, exp, nil
		}}
		return e, nil
	}
	if strings.EqualFold(strings.TrimSpace(getenv("AWS_EC2_METADATA_DISABLED")), "true") {
		e.credsErr = errors.New("no AWS credentials: " + why + " (instance metadata is disabled by AWS_EC2_METADATA_DISABLED)")
		return e, nil
	}
	endpoint := getenv("AWS_EC2_METADATA_SERVICE_ENDPOINT")
	if endpoint == "" {
		endpoint = imdsEndpoint
	}
	imds := imdsSource(endpoint)
	e.fromIMDS = true
	e.fetched = &refresher{fetch: func(ctx context.Context) (credentials, time.Time, error) {
		c, exp, err := imds(ctx)
		if err != nil {
			return c, exp, fmt.Errorf("no AWS credentials: %s, and none from %w", why, err)
		}
		return c, exp, nil
	}}
	return e, nil
}

// readProfile reads a profile's settings from an AWS shared file: its
// [NAME] section, or in the config file [profile NAME] ([default] for
// the default profile). A missing file has no profiles.
func readProfile(path, profile string, config bool) (map[string]string, bool, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return map[string]string{}, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("aws configuration: %w", err)
	}
	want := profile
	if config && profile != "default" {
		want = "profile " + profile
	}
	out, found, in := map[string]string{}, false, false
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		raw := sc.Text()
		line := strings.TrimSpace(raw)
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		if line[0] == '[' {
			name, _, _ := strings.Cut(strings.TrimPrefix(line, "["), "]")
			name = strings.Join(strings.Fields(name), " ")
			in = name == want || config && profile == "default" && name == "profile default"
			found = found || in
			continue
		}
		if !in || raw[0] == ' ' || raw[0] == '\t' {
			continue // another profile, or a nested setting (s3 =\n  ...)
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		k = strings.ToLower(strings.TrimSpace(k))
		if _, dup := out[k]; !dup {
			out[k] = strings.TrimSpace(v)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, false, fmt.Errorf("aws configuration: %s: %w", path, err)
	}
	return out, found, nil
}

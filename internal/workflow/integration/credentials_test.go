package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCredentials reads keys and region from the environment and the
// shared files as the AWS CLI does, and names what is not supported.
func TestCredentials(t *testing.T) {
	dir := t.TempDir()
	creds, conf := filepath.Join(dir, "credentials"), filepath.Join(dir, "config")
	os.WriteFile(creds, []byte("[default]\naws_access_key_id = DEF\naws_secret_access_key = defsecret\n\n[dev]\naws_access_key_id=DEV\naws_secret_access_key=devsecret\naws_session_token=tok\n"), 0o600)
	os.WriteFile(conf, []byte("[default]\nregion = eu-west-2\n[profile dev]\nregion=ap-south-1\ns3 =\n  region = nope\n[profile sso]\nsso_session = corp\n[profile cfg]\naws_access_key_id = CFG\naws_secret_access_key = cfgsecret\n"), 0o600)
	env := func(kv ...string) func(string) string {
		m := map[string]string{"AWS_SHARED_CREDENTIALS_FILE": creds, "AWS_CONFIG_FILE": conf}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) string { return m[k] }
	}
	for _, tc := range []struct {
		env                 func(string) string
		key, token, region  string
		credsErr, loadError string
		fetched             bool // from the container or the instance
	}{
		{env: env(), key: "DEF", region: "eu-west-2"},
		{env: env("AWS_PROFILE", "dev"), key: "DEV", token: "tok", region: "ap-south-1"},
		{env: env("AWS_DEFAULT_PROFILE", "dev", "AWS_DEFAULT_REGION", "us-west-1"), key: "DEV", token: "tok", region: "us-west-1"},
		{env: env("AWS_PROFILE", "dev", "AWS_ACCESS_KEY_ID", "ENV", "AWS_SECRET_ACCESS_KEY", "s", "AWS_REGION", "sa-east-1"), key: "ENV", region: "sa-east-1"},
		{env: env("AWS_PROFILE", "cfg"), key: "CFG"},
		{env: env("AWS_PROFILE", "sso"), credsErr: "through sso_session, which is not supported"},
		{env: env("AWS_PROFILE", "none"), loadError: "the profile none is in neither"},
		{env: env("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "x"), "AWS_CONFIG_FILE", filepath.Join(dir, "y"), "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2"), fetched: true},
		{env: env("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "x"), "AWS_CONFIG_FILE", filepath.Join(dir, "y")), fetched: true},
		{env: env("AWS_EC2_METADATA_DISABLED", "TRUE", "AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "x"), "AWS_CONFIG_FILE", filepath.Join(dir, "y")), credsErr: "instance metadata is disabled by AWS_EC2_METADATA_DISABLED"},
		{env: env("AWS_PROFILE", "sso", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2"), credsErr: "through sso_session, which is not supported"},
		{env: env("AWS_WEB_IDENTITY_TOKEN_FILE", "/t", "AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "x"), "AWS_CONFIG_FILE", filepath.Join(dir, "y")), credsErr: "AWS_WEB_IDENTITY_TOKEN_FILE is set"},
		{env: env("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://192.0.2.7/creds", "AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "x"), "AWS_CONFIG_FILE", filepath.Join(dir, "y")), credsErr: "host 192.0.2.7 is not allowed over http"},
	} {
		e, err := loadAWSEnv(tc.env)
		switch {
		case tc.loadError != "":
			if err == nil || !strings.Contains(err.Error(), tc.loadError) {
				t.Errorf("%+v: error %v", tc, err)
			}
		case err != nil:
			t.Errorf("%+v: %v", tc, err)
		case tc.credsErr != "":
			if e.credsErr == nil || !strings.Contains(e.credsErr.Error(), tc.credsErr) {
				t.Errorf("%+v: credentials error %v", tc, e.credsErr)
			}
		case (e.fetched != nil) != tc.fetched || e.credsErr != nil:
			t.Errorf("%+v: fetched %v, credentials error %v", tc, e.fetched != nil, e.credsErr)
		case e.creds.AccessKeyID != tc.key || e.creds.SessionToken != tc.token || e.region != tc.region:
			t.Errorf("%+v: got %+v, region %s", tc, e.creds, e.region)
		}
	}
}

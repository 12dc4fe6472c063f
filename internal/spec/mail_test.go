package spec

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestMailSES(t *testing.T) {
	t.Parallel()
	src := `mail:
  from: Shop <shop@example.com>
  provider: ses
  ses:
    region: eu-west-1
    endpoint: https://email.eu-west-1.amazonaws.com
    configuration_set: shop-mail
resources:
  items:
    fields:
      name: string
`
	s, err := Parse("k.yaml", []byte(src), ParseOpts{LookupEnv: noEnv})
	require.NoError(t, err)
	require.Equal(t, MailSESName, s.Mail.Provider)
	require.Equal(t, "eu-west-1", s.Mail.SES.Region)
	require.Equal(t, "https://email.eu-west-1.amazonaws.com", s.Mail.SES.Endpoint)
	require.Equal(t, "shop-mail", s.Mail.SES.ConfigurationSet)
}

func TestMailSESErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, ses, want string
	}{
		{name: "MissingRegion", ses: "  ses: {}\n", want: "k.yaml:4:8: mail.ses.region is needed"},
		{name: "NoBlock", ses: "", want: "k.yaml:2:7: mail.ses.region is needed"},
		{name: "BadRegion", ses: "  ses:\n    region: Europe\n", want: `k.yaml:5:13: mail.ses.region "Europe" is not an AWS region`},
		{name: "BadEndpoint", ses: "  ses:\n    region: us-east-1\n    endpoint: ftp://x\n", want: `k.yaml:6:15: mail.ses.endpoint "ftp://x" is not an http(s) URL`},
		{name: "BadConfigurationSet", ses: "  ses:\n    region: us-east-1\n    configuration_set: a b\n", want: `k.yaml:6:24: mail.ses.configuration_set "a b" is not`},
		{name: "UnknownKey", ses: "  ses:\n    region: us-east-1\n    secret_key: x\n", want: `k.yaml:6:5: unknown key "secret_key" in mail.ses`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			src := "mail:\n  from: shop@example.com\n  provider: ses\n" + tc.ses + "resources:\n  items:\n    fields:\n      name: string\n"
			_, err := Parse("k.yaml", []byte(src), ParseOpts{LookupEnv: noEnv})
			require.ErrorContains(t, err, tc.want)
		})
	}
}

// A mail or storage value that is wrong is reported where it is written, not at the block's
// first key (a trial saw mail.provider, smtp.tls and smtp.port all placed at the from: line).
func TestMailAndStorageErrorsPointAtTheValue(t *testing.T) {
	t.Parallel()
	src := `mail:
  from: Shop <shop@example.com>
  provider: smtpp
  smtp:
    host: mail.example.com
    tls: off
    port: 99999
storage:
  provider: local
  url_ttl: 100h
resources:
  items:
    fields:
      name: string
`
	_, err := Parse("k.yaml", []byte(src), ParseOpts{LookupEnv: noEnv})
	require.ErrorContains(t, err, `k.yaml:3:13: mail.provider "smtpp" is not one of`)
	require.ErrorContains(t, err, `k.yaml:6:10: mail.smtp.tls "off" is not one of`)
	require.ErrorContains(t, err, `k.yaml:7:11: mail.smtp.port must be between 1 and 65535`)
	require.ErrorContains(t, err, `k.yaml:10:12: storage.url_ttl must be at most`)
}

package spec

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestFileFieldsAndStorageAreChecked(t *testing.T) {
	t.Parallel()
	src := `storage:
  provider: s4
  url_ttl: soon
resources:
  papers:
    fields:
      scan: {type: file, max_size: 5XB, thumbnails: [200, 0x10], accept: ["image/", "*/*"], public: false}
      many: {type: file, max_files: 0, required: true, public: true}
      title: {type: string, thumbnails: [10x10]}
`
	_, err := Parse("k.yaml", []byte(src), ParseOpts{LookupEnv: noEnv})
	require.Error(t, err)
	text := err.Error()
	for _, want := range []string{
		`k.yaml:2:13: storage.provider "s4" is not one of [local s3]`,
		`k.yaml:3:12: storage.url_ttl must be a positive duration`,
		`k.yaml:7:36: scan.max_size must be a positive size such as 5MB or 1048576, not "5XB"`,
		`k.yaml:7:53: scan.thumbnails: "200" is not a size such as 200x200`,
		`k.yaml:7:53: scan.thumbnails: "0x10" is not a size such as 200x200`,
		`k.yaml:7:7: field scan: accept "image/" is not a media type`,
		`k.yaml:7:7: field scan: accept "*/*" is not a media type`,
		`k.yaml:7:7: field scan: without auth every file is readable by anyone; say public: true`,
		`k.yaml:8:37: many.max_files must be between 1 and 100`,
		`k.yaml:8:7: field many: a file field cannot be required`,
		`k.yaml:9:7: field title: max_size, accept, thumbnails, max_files and public apply to file fields`,
	} {
		require.Contains(t, text, want)
	}
}

func TestFileFieldDefaults(t *testing.T) {
	t.Parallel()
	src := "storage:\n  provider: s3\n  s3: {bucket: b, region: eu-west-1, endpoint: 'http://127.0.0.1:9000', path_style: true}\n" +
		"resources:\n  papers:\n    fields:\n      scan: {type: file, max_size: 2MiB, accept: [image/*], public: true}\n"
	s, err := Parse("k.yaml", []byte(src), ParseOpts{LookupEnv: noEnv})
	require.NoError(t, err)
	f := s.Resource("papers").Field("scan")
	require.True(t, f.Readonly)
	require.EqualValues(t, 2<<20, f.File.MaxSize)
	require.Equal(t, 1, f.File.MaxFiles)
	require.True(t, f.File.Accepts("image/webp"))
	require.False(t, f.File.Accepts("text/html"))
	require.Equal(t, DefaultURLTTL, s.Storage.URLTTL)
	require.Equal(t, StorageS3{Bucket: "b", Region: "eu-west-1", Endpoint: "http://127.0.0.1:9000", PathStyle: true}, s.Storage.S3)

	_, err = Parse("k.yaml", []byte("storage: {provider: s3}\n"+src[len("storage:\n  provider: s3\n  s3: {bucket: b, region: eu-west-1, endpoint: 'http://127.0.0.1:9000', path_style: true}\n"):]), ParseOpts{LookupEnv: noEnv})
	require.ErrorContains(t, err, "storage.s3 needs bucket and region")
}

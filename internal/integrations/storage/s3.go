package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// S3Config names a bucket and how to reach it; the credentials come from the environment.
type S3Config struct {
	Bucket, Region string
	Endpoint       string // empty: AWS's endpoint for the region
	PathStyle      bool
	AccessKey      string
	SecretKey      string
	SessionToken   string
	HTTPClient     *http.Client // nil: a client whose requests end with their context
}

// S3 keeps objects in an S3-compatible bucket.
type S3 struct {
	bucket  string
	client  *s3.Client
	presign *s3.PresignClient
}

// NewS3 returns a store for the bucket. It does not call S3: a wrong bucket or credential
// shows on the first upload (and `kiln serve` checks the bucket at start).
func NewS3(cfg S3Config) (*S3, error) {
	if cfg.AccessKey == "" || cfg.SecretKey == "" {
		return nil, errors.New("storage: S3 needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment")
	}
	hc := cfg.HTTPClient
	if hc == nil {
		// No overall timeout: a large object takes as long as it takes; requests end with
		// their context, and a dead server shows at connect or in the answer's headers.
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.ResponseHeaderTimeout = time.Minute
		hc = &http.Client{Transport: tr}
	}
	ac := aws.Config{
		Region:      cfg.Region,
		Credentials: aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider(cfg.AccessKey, cfg.SecretKey, cfg.SessionToken)),
		HTTPClient:  hc,
		// Checksums only where S3 requires them: R2 and other S3-compatible servers refuse
		// the newer default trailing checksums.
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	}
	client := s3.NewFromConfig(ac, func(o *s3.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
		o.UsePathStyle = cfg.PathStyle
	})
	return &S3{bucket: cfg.Bucket, client: client, presign: s3.NewPresignClient(client)}, nil
}

// Check asks S3 whether the bucket exists and the credentials reach it.
func (s *S3) Check(ctx context.Context) error {
	if _, err := s.client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: &s.bucket}); err != nil {
		return fmt.Errorf("storage: bucket %s: %w", s.bucket, err)
	}
	return nil
}

// Put uploads the object in one request (S3 takes up to 5 GiB that way; the body is a
// seekable file, so the SDK signs it without holding it in memory).
// The download name is kept as the object's Content-Disposition, which S3 (and R2) serve
// back on every GET that does not override it.
func (s *S3) Put(ctx context.Context, key string, body io.ReadSeeker, size int64, opts PutOpts) error {
	if err := checkKeys(key); err != nil {
		return err
	}
	_, err := s.client.PutObject(ctx, &s3.PutObjectInput{Bucket: &s.bucket, Key: &key, Body: body,
		ContentLength: aws.Int64(size), ContentType: aws.String(opts.ContentType),
		ContentDisposition: aws.String(ContentDisposition(opts.ContentType, opts.Filename))})
	if err != nil {
		return fmt.Errorf("storage: put %s: %w", key, denied(err))
	}
	return nil
}

// Get streams the object.
func (s *S3) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	if err := checkKeys(key); err != nil {
		return nil, err
	}
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &s.bucket, Key: &key})
	var nsk *types.NoSuchKey
	if errors.As(err, &nsk) || isNotFound(err) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("storage: get %s: %w", key, denied(err))
	}
	return out.Body, nil
}

// Delete removes the objects, up to 1000 per request.
func (s *S3) Delete(ctx context.Context, keys []string) error {
	if err := checkKeys(keys...); err != nil {
		return err
	}
	for len(keys) > 0 {
		n := min(len(keys), 1000)
		ids := make([]types.ObjectIdentifier, n)
		for i, k := range keys[:n] {
			ids[i] = types.ObjectIdentifier{Key: aws.String(k)}
		}
		out, err := s.client.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: &s.bucket,
			Delete: &types.Delete{Objects: ids, Quiet: aws.Bool(true)}})
		if err != nil {
			return fmt.Errorf("storage: delete: %w", denied(err))
		}
		for _, e := range out.Errors {
			if aws.ToString(e.Code) != "NoSuchKey" {
				return fmt.Errorf("storage: delete %s: %s", aws.ToString(e.Key), aws.ToString(e.Code))
			}
		}
		keys = keys[n:]
	}
	return nil
}

// PresignGet signs a download URL.
func (s *S3) PresignGet(ctx context.Context, key string, ttl time.Duration, filename, contentType string) (string, error) {
	if err := checkKeys(key); err != nil {
		return "", err
	}
	in := &s3.GetObjectInput{Bucket: &s.bucket, Key: &key} // served with the type and disposition stored by Put
	if contentType != "" {
		in.ResponseContentType = aws.String(contentType)
		if filename != "" {
			in.ResponseContentDisposition = aws.String(ContentDisposition(contentType, filename))
		}
	}
	req, err := s.presign.PresignGetObject(ctx, in, s3.WithPresignExpires(ttl))
	if err != nil {
		return "", fmt.Errorf("storage: presign %s: %w", key, err)
	}
	return req.URL, nil
}

// PresignPut signs an upload URL for exactly size bytes.
func (s *S3) PresignPut(ctx context.Context, key string, ttl time.Duration, size int64) (string, error) {
	if err := checkKeys(key); err != nil {
		return "", err
	}
	req, err := s.presign.PresignPutObject(ctx, &s3.PutObjectInput{Bucket: &s.bucket, Key: &key, ContentLength: aws.Int64(size)},
		s3.WithPresignExpires(ttl))
	if err != nil {
		return "", fmt.Errorf("storage: presign %s: %w", key, err)
	}
	return req.URL, nil
}

// deniedCodes are S3's answers to credentials it does not take (or that may not use the
// bucket): the configuration is wrong, and trying again changes nothing.
var deniedCodes = map[string]bool{"AccessDenied": true, "InvalidAccessKeyId": true, "SignatureDoesNotMatch": true,
	"InvalidToken": true, "ExpiredToken": true, "AllAccessDisabled": true, "AccountProblem": true, "NoSuchBucket": true}

// denied marks err ErrDenied (keeping it) when S3 refused the credentials or the bucket.
func denied(err error) error {
	var ae smithy.APIError
	if errors.As(err, &ae) && deniedCodes[ae.ErrorCode()] {
		return errors.Join(ErrDenied, err)
	}
	return err
}

func isNotFound(err error) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && (ae.ErrorCode() == "NotFound" || ae.ErrorCode() == "NoSuchKey")
}

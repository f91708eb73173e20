package ingest

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
)

// requestError refuses a whole request: nothing of it is stored.
type requestError struct {
	status int
	reason string // a fixed code for logs, never derived from the request
	msg    string // the message for the client
}

func (e *requestError) Error() string { return e.msg }

func badRequest(format string, args ...any) *requestError {
	return &requestError{http.StatusBadRequest, "invalid_request", fmt.Sprintf(format, args...)}
}

// checkContentType accepts JSON, and text/plain, which analytics.js sends
// to avoid a CORS preflight and with navigator.sendBeacon.
func checkContentType(ct string) *requestError {
	mt, _, err := mime.ParseMediaType(ct)
	if err == nil && (mt == "application/json" || mt == "text/plain") {
		return nil
	}
	return &requestError{http.StatusUnsupportedMediaType, "unsupported_content_type",
		"Content-Type must be application/json (or text/plain)"}
}

// readBody reads a request body of at most limit bytes, decompressing it if
// it is gzip-encoded. The limit applies to the decompressed bytes, and reading
// stops one byte past it, so a gzip bomb costs no more memory than a body at
// the limit.
func readBody(w http.ResponseWriter, r *http.Request, limit int) ([]byte, *requestError) {
	tooLarge := &requestError{http.StatusRequestEntityTooLarge, "body_too_large",
		fmt.Sprintf("request body is larger than %d bytes", limit)}

	var gzipped bool
	switch enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
	case "gzip", "x-gzip":
		gzipped = true
	default:
		return nil, &requestError{http.StatusUnsupportedMediaType, "unsupported_content_encoding",
			"Content-Encoding must be gzip or absent"}
	}

	// The compressed body may be a little larger than its content when the
	// content does not compress: allow for gzip's worst-case overhead.
	rawLimit := int64(limit)
	if gzipped {
		rawLimit += rawLimit/64 + 1024
	}
	if r.ContentLength > rawLimit {
		return nil, tooLarge
	}
	var src io.Reader = http.MaxBytesReader(w, r.Body, rawLimit)
	if gzipped {
		zr, err := gzip.NewReader(src)
		if err != nil {
			return nil, gzipError(err, tooLarge)
		}
		defer zr.Close()
		src = zr
	}

	size := 512
	if !gzipped && r.ContentLength > 0 {
		size = int(r.ContentLength) + 1
	}
	buf := bytes.NewBuffer(make([]byte, 0, size))
	n, err := buf.ReadFrom(io.LimitReader(src, int64(limit)+1))
	if err != nil {
		if gzipped {
			return nil, gzipError(err, tooLarge)
		}
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return nil, tooLarge
		}
		return nil, badRequest("reading the request body: %v", err)
	}
	if n > int64(limit) {
		return nil, tooLarge
	}
	return buf.Bytes(), nil
}

// gzipError explains a failure to decompress a body.
func gzipError(err error, tooLarge *requestError) *requestError {
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		return tooLarge
	}
	return badRequest("the body is not valid gzip: %v", err)
}

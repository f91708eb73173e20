package adapters

import "errors"

// ErrWatermarkGap is returned by Load when a chunk starts past its stream's
// watermark (c.After > watermark): loading it would skip the rows in between.
var ErrWatermarkGap = errors.New("chunk starts past the stream's watermark")

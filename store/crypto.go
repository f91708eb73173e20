package store

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
)

// Sealed credentials are laid out as
//
//	version (1 byte) | key id (4 bytes) | nonce (12 bytes) | AES-256-GCM ciphertext and tag
//
// The key id is the start of a SHA-256 of the master key, so that a store
// opened with another key says so instead of failing authentication. The
// warehouse id is the additional authenticated data: a ciphertext moved to
// another warehouse does not decrypt.
const (
	sealVersion = 1
	keyIDLen    = 4
	headerLen   = 1 + keyIDLen
)

// sealer encrypts and decrypts credentials with the master key.
type sealer struct {
	aead  cipher.AEAD // nil without a master key
	keyID [keyIDLen]byte
}

// newSealer checks the master key; an empty key gives a sealer that refuses
// every operation with ErrNoMasterKey.
func newSealer(key []byte) (*sealer, error) {
	if len(key) == 0 {
		return &sealer{}, nil
	}
	if len(key) != 32 {
		return nil, fmt.Errorf("master key must be 32 bytes, got %d", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	s := &sealer{aead: aead}
	sum := sha256.Sum256(append([]byte("profilesync master key id\x00"), key...))
	copy(s.keyID[:], sum[:])
	return s, nil
}

// seal encrypts plaintext for the warehouse id.
func (s *sealer) seal(warehouseID string, plaintext []byte) ([]byte, error) {
	if s.aead == nil {
		return nil, ErrNoMasterKey
	}
	out := make([]byte, headerLen+s.aead.NonceSize(), headerLen+s.aead.NonceSize()+len(plaintext)+s.aead.Overhead())
	out[0] = sealVersion
	copy(out[1:headerLen], s.keyID[:])
	nonce := out[headerLen:]
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("generating nonce: %w", err)
	}
	return s.aead.Seal(out, nonce, plaintext, []byte(warehouseID)), nil
}

// open decrypts what seal produced for the same warehouse id.
func (s *sealer) open(warehouseID string, sealed []byte) ([]byte, error) {
	if s.aead == nil {
		return nil, ErrNoMasterKey
	}
	if len(sealed) < headerLen+s.aead.NonceSize()+s.aead.Overhead() {
		return nil, errors.New("sealed credentials are truncated")
	}
	if sealed[0] != sealVersion {
		return nil, fmt.Errorf("sealed credentials have unknown version %d", sealed[0])
	}
	if [keyIDLen]byte(sealed[1:headerLen]) != s.keyID {
		return nil, fmt.Errorf("%w (encrypted with key id %x, this store has key id %x)", ErrWrongKey, sealed[1:headerLen], s.keyID[:])
	}
	nonce := sealed[headerLen : headerLen+s.aead.NonceSize()]
	plain, err := s.aead.Open(nil, nonce, sealed[headerLen+s.aead.NonceSize():], []byte(warehouseID))
	if err != nil {
		// The GCM error says nothing useful; the cause is a wrong key or
		// tampering, and neither should leak details.
		return nil, ErrWrongKey
	}
	return plain, nil
}

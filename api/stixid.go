package api

import (
	"crypto/sha1"
	"fmt"
)

// stixNamespace is postwatch's UUIDv5 namespace for STIX ids, so the same
// record always gets the same STIX id across exports.
var stixNamespace = [16]byte{0x6a, 0x1f, 0x2d, 0x39, 0x5c, 0x0e, 0x4b, 0x7a, 0x9d, 0x22, 0x31, 0x8e, 0x44, 0x53, 0x0b, 0x61}

// stixUUID is a name-based UUID (RFC 9562 version 5) of name.
func stixUUID(name string) string {
	h := sha1.New()
	h.Write(stixNamespace[:])
	h.Write([]byte(name))
	var u [16]byte
	copy(u[:], h.Sum(nil))
	u[6] = u[6]&0x0f | 0x50
	u[8] = u[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}

package ntlmseal

import (
	"encoding/binary"
	"time"
)

var zeroTime = time.Unix(0, 0)

// challengeMessage builds a CHALLENGE_MESSAGE with an empty target name.
func challengeMessage(flags uint32, server, targetInfo []byte) []byte {
	m := make([]byte, 48)
	copy(m, signature)
	binary.LittleEndian.PutUint32(m[8:], 2)
	binary.LittleEndian.PutUint32(m[16:], 48)
	binary.LittleEndian.PutUint32(m[20:], flags)
	copy(m[24:32], server)
	binary.LittleEndian.PutUint16(m[40:], uint16(len(targetInfo)))
	binary.LittleEndian.PutUint16(m[42:], uint16(len(targetInfo)))
	binary.LittleEndian.PutUint32(m[44:], 48)
	return append(m, targetInfo...)
}

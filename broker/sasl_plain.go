package broker

// SASL/PLAIN (RFC 4616) with the users of the listener's JAAS config, as
// Kafka's PlainServerCallbackHandler reads them: every user_<name>="<pw>"
// option of PlainLoginModule is a user.

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"strconv"
	"strings"
	"time"

	"github.com/samsa-io/samsa/broker/config"
)

type plainMechanism struct {
	// users holds the SHA-256 of each password, so that comparing takes
	// the same time whatever the length.
	users  map[string][32]byte
	reauth int64
}

func newPlainMechanism(ms *config.MechanismSettings) (*plainMechanism, error) {
	m := &plainMechanism{users: map[string][32]byte{}, reauth: ms.ReauthMs}
	if ms.JAAS != nil {
		for k, v := range ms.JAAS.Options {
			if name, ok := strings.CutPrefix(k, "user_"); ok && name != "" {
				m.users[name] = sha256.Sum256([]byte(v))
			}
		}
	}
	return m, nil
}

func (m *plainMechanism) reauthMs() int64 { return m.reauth }

func (m *plainMechanism) start(*conn) saslExchange { return &plainExchange{m: m} }

type plainExchange struct {
	m    *plainMechanism
	name string
}

// errPlainCredentials is PlainSaslServer's message.
var errPlainCredentials = &authError{msg: "Authentication failed: Invalid username or password"}

func (e *plainExchange) next(msg []byte) ([]byte, bool, error) {
	// authzid NUL authcid NUL passwd
	parts := bytes.Split(msg, []byte{0})
	if len(parts) != 3 {
		return nil, false, &authError{msg: "Invalid SASL/PLAIN response: expected 3 tokens, got " + strconv.Itoa(len(parts))}
	}
	authz, user, pass := string(parts[0]), string(parts[1]), parts[2]
	if user == "" {
		return nil, false, &authError{msg: "Authentication failed: username not specified"}
	}
	if len(pass) == 0 {
		return nil, false, &authError{msg: "Authentication failed: password not specified"}
	}
	want, ok := e.m.users[user]
	got := sha256.Sum256(pass)
	if subtle.ConstantTimeCompare(want[:], got[:]) != 1 || !ok {
		return nil, false, errPlainCredentials
	}
	if authz != "" && authz != user {
		return nil, false, &authError{msg: "Authentication failed: Client requested an authorization id that is different from username"}
	}
	e.name = user
	return []byte{}, true, nil
}

func (e *plainExchange) user() string      { return e.name }
func (e *plainExchange) expiry() time.Time { return time.Time{} }

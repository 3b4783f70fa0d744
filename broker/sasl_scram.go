package broker

// SASL/SCRAM-SHA-256 and SCRAM-SHA-512 (RFC 5802, RFC 7677) with the
// credentials stored in etcd (coordinator/scram.go, managed with
// AlterUserScramCredentials), read from the metadata Snapshot. Channel
// binding is not offered (gs2 "n" or "y"), extensions other than none are
// refused (Kafka's tokenauth is for delegation tokens, which samsa does not
// issue), and an authorization id must equal the user name, as in Kafka.

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"hash"
	"strconv"
	"strings"
	"time"

	"github.com/samsa-io/samsa/broker/config"
	"github.com/samsa-io/samsa/coordinator"
)

type scramMechanism struct {
	b      *Broker
	name   string
	reauth int64
}

func (m *scramMechanism) reauthMs() int64 { return m.reauth }

func (m *scramMechanism) start(*conn) saslExchange { return &scramExchange{m: m} }

// scramHash is the mechanism's hash.
func scramHash(mech string) func() hash.Hash {
	if mech == config.MechScramSHA512 {
		return sha512.New
	}
	return sha256.New
}

// scramCredential derives the stored credential from a salted password
// (what AlterUserScramCredentials carries).
func scramCredential(mech string, salt, saltedPassword []byte, iterations int32) coordinator.ScramCredential {
	h := scramHash(mech)
	clientKey := hmacSum(h, saltedPassword, []byte("Client Key"))
	stored := h()
	stored.Write(clientKey)
	return coordinator.ScramCredential{
		Salt:       salt,
		StoredKey:  stored.Sum(nil),
		ServerKey:  hmacSum(h, saltedPassword, []byte("Server Key")),
		Iterations: iterations,
	}
}

// scramSaltedPassword is Hi(password, salt, i) (tests, dev tools).
func scramSaltedPassword(mech, password string, salt []byte, iterations int) []byte {
	h := scramHash(mech)
	k, _ := pbkdf2.Key(h, password, salt, iterations, h().Size())
	return k
}

func hmacSum(h func() hash.Hash, key, msg []byte) []byte {
	m := hmac.New(h, key)
	m.Write(msg)
	return m.Sum(nil)
}

type scramExchange struct {
	m     *scramMechanism
	step  int
	name  string
	cred  coordinator.ScramCredential
	gs2   string // the client's gs2 header
	nonce string // client nonce + server nonce
	// first is client-first-message-bare + "," + server-first-message.
	first string
}

func (e *scramExchange) next(msg []byte) ([]byte, bool, error) {
	fail := invalidCredentials(e.m.name)
	switch e.step {
	case 0:
		e.step++
		s := string(msg)
		var authz string
		switch {
		case strings.HasPrefix(s, "n,"), strings.HasPrefix(s, "y,"):
		default:
			return nil, false, fail.because("channel binding (p=) is not supported")
		}
		rest := s[2:]
		i := strings.IndexByte(rest, ',')
		if i < 0 {
			return nil, false, fail.because("malformed client-first message")
		}
		if a := rest[:i]; a != "" {
			if !strings.HasPrefix(a, "a=") {
				return nil, false, fail.because("malformed gs2 header")
			}
			authz = scramUnescape(a[2:])
		}
		e.gs2 = s[:2+i+1]
		bare := rest[i+1:]
		attrs := strings.Split(bare, ",")
		if len(attrs) < 2 || !strings.HasPrefix(attrs[0], "n=") || !strings.HasPrefix(attrs[1], "r=") || len(attrs[1]) < 3 {
			return nil, false, fail.because("malformed client-first message")
		}
		if len(attrs) > 2 {
			return nil, false, &authError{msg: "Authentication failed: unsupported SCRAM extensions"}
		}
		e.name = scramUnescape(attrs[0][2:])
		if authz != "" && authz != e.name {
			return nil, false, &authError{msg: "Authentication failed: Client requested an authorization id that is different from username"}
		}
		cred, ok := e.m.b.store.Snapshot().SCRAM[coordinator.SCRAMKey{Mechanism: e.m.name, User: e.name}]
		if !ok {
			return nil, false, fail.because("no " + e.m.name + " credential for user " + e.name)
		}
		e.cred = cred
		var sn [18]byte
		rand.Read(sn[:])
		e.nonce = attrs[1][2:] + base64.RawURLEncoding.EncodeToString(sn[:])
		serverFirst := "r=" + e.nonce + ",s=" + base64.StdEncoding.EncodeToString(cred.Salt) + ",i=" + strconv.Itoa(int(cred.Iterations))
		e.first = bare + "," + serverFirst
		return []byte(serverFirst), false, nil
	case 1:
		e.step++
		s := string(msg)
		i := strings.LastIndex(s, ",p=")
		if i < 0 {
			return nil, false, fail.because("client-final message without proof")
		}
		withoutProof, proofB64 := s[:i], s[i+3:]
		attrs := strings.Split(withoutProof, ",")
		// The nonce must end with the server's, as Kafka checks it
		// (ScramSaslServer: endsWith), not equal it: librdkafka 2.0.x
		// sends its own nonce in front of the server's again, which Kafka
		// accepts, so samsa does too.
		if len(attrs) < 2 || attrs[0] != "c="+base64.StdEncoding.EncodeToString([]byte(e.gs2)) ||
			!strings.HasPrefix(attrs[1], "r=") || !strings.HasSuffix(attrs[1], e.nonce) {
			return nil, false, fail.because("client-final message: channel binding or nonce mismatch")
		}
		proof, err := base64.StdEncoding.DecodeString(proofB64)
		h := scramHash(e.m.name)
		if err != nil || len(proof) != h().Size() {
			return nil, false, fail.because("malformed proof")
		}
		authMsg := []byte(e.first + "," + withoutProof)
		sig := hmacSum(h, e.cred.StoredKey, authMsg)
		clientKey := make([]byte, len(proof))
		for j := range proof {
			clientKey[j] = proof[j] ^ sig[j]
		}
		sum := h()
		sum.Write(clientKey)
		if subtle.ConstantTimeCompare(sum.Sum(nil), e.cred.StoredKey) != 1 {
			return nil, false, fail.because("wrong password for user " + e.name)
		}
		serverSig := hmacSum(h, e.cred.ServerKey, authMsg)
		return []byte("v=" + base64.StdEncoding.EncodeToString(serverSig)), true, nil
	}
	return nil, false, fail
}

func (e *scramExchange) user() string      { return e.name }
func (e *scramExchange) expiry() time.Time { return time.Time{} }

// scramUnescape decodes a saslname (=2C is ',', =3D is '=').
func scramUnescape(s string) string {
	return strings.NewReplacer("=2C", ",", "=3D", "=").Replace(s)
}

// Package serverrooms remembers the server-side rooms of each user in one
// process: the rooms the push API's Subscribe gave a user, which every
// connection the user opens later is put in (docs/protocol.md section 6.8).
// A cluster keeps them on Redis instead (store.ServerRooms); both have the
// same methods, and the push API and the edge each declare the part they use.
package serverrooms

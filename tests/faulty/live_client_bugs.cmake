# bug:rule:scenario -- faulty-client defects a live scenario run catches with
# the right rule (`syncsim run --client-exec`, the client driven over the
# stdin contract; measured with live_client_matrix.sh, README.md has the
# whole matrix), one short scenario of the live subset each.
set(SYNCSIM_FAULTY_CLIENT_LIVE_BUGS
  reused-mutation-ids:DELTA-1:writes-converge
  empty-delta:DELTA-1:writes-converge
  wrong-checksum:DELTA-2:writes-converge
  resend-acked:DELTA-12:writes-converge
  no-resync-on-gap:RESYNC-2:resync-gap-dropped-delta
  resync-on-every-delta:RESYNC-4:writes-converge
  never-throttle:THROTTLE-2:throttle-default-watermarks
  never-release-throttle:THROTTLE-2:throttle-default-watermarks
  push-to-purged:PURGE-7:purge-pending-not-retransmitted
  close-on-repeated-purge:PURGE-8:purge-replay-idempotent
  no-first-ping:PING-1:writes-converge
  push-before-ack:HS-1:writes-converge
  talks-after-refusal:HS-13:token-expired-at-handshake
  empty-shape-id:SHAPE-1:writes-converge
  close-on-unknown-code:FRAME-3:unknown-frames-ignored
  ping-before-handshake:HS-1:writes-converge
  close-on-bad-body:FRAME-10:undecodable-frames-ignored)

# bug:rule:scenario -- faulty-server defects a live scenario run catches with
# the right rule (measured with live_matrix.sh; README.md has the whole
# matrix), one short scenario of the live subset each.
set(SYNCSIM_FAULTY_LIVE_BUGS
  no-pong:PING-2:ping-keepalive
  pong-wrong-timestamp:PING-2:ping-keepalive
  ack-duplicate-with-lsn:DELTA-6:dedup-duplicate-frames
  accept-bad-checksum:DELTA-4:crc-mismatch-rejected
  acks-out-of-order:DELTA-9:writes-converge
  lsn-backwards:DELTA-8:dedup-duplicate-frames
  close-on-unknown-code:FRAME-3:unknown-frames-ignored
  fork-not-detected:HS-9:bug-client-reuse-epoch
  wrong-wire-version:HS-5:handshake-future-wire-version
  success-with-error:HS-7:token-expired-at-handshake
  resync-ignored:RESYNC-8:resync-gap-dropped-delta
  throttle-ignored:THROTTLE-4:throttle-default-rate
  throttle-never-released:THROTTLE-4:throttle-release-recovers
  throttle-delays-pong:THROTTLE-5:throttle-control-not-delayed
  expired-token-accepted:TOKEN-9:token-expires-then-recovers
  refresh-failure-with-expiry:TOKEN-2:token-refresh-fails
  purge-no-notice:PURGE-1:purge-reaches-every-session
  purge-notice-other-tenants:PURGE-1:purge-reaches-every-session
  push-after-purge-accepted:PURGE-4:purge-discards-in-flight
  purge-lsn-stale:PURGE-2:purge-during-pushes
  ts-lsn-zero:TS-4:timeseries-push-ack
  resync-closes:RESYNC-7:resync-gap-dropped-delta
  close-on-bad-body:FRAME-10:undecodable-frames-ignored
  no-echo-to-writer:SHAPE-7:shape-writer-sees-own-writes
  presence-no-leave:PRES-5:presence-broadcast-and-leave
  definitions-cross-tenant:DEF-4:definition-stays-in-tenant
  presence-echo-to-sender:PRES-2:presence-not-echoed
  skew-unsigned-marker:ENC-3:clock-skew
  unsubscribe-ignored:SHAPE-6:shape-unsubscribe-stops-deltas
  accept-empty-delta:DELTA-5:bug-client-empty-delta
  ts-ack-miscount:TS-3:bug-client-overstates-samples)

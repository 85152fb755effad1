/**
 * Channel and server options shared by every Tessera gRPC endpoint, each with the reason for it.
 */
import type { ChannelOptions } from '@grpc/grpc-js';
import { ERROR_CODES, TesseraError } from '../common/errors';

/**
 * What carries the data plane (Pull, Push and their streams): grpc-js, or gRPC framing written
 * directly on node:http2 (src/wire/h2-data-server.ts, h2-data-channel.ts; ADR 0038). Both speak
 * the same gRPC on the same port; admin, migration and health are always grpc-js.
 */
export type DataPlane = 'grpc-js' | 'http2';

/** The data planes, as flags and TESSERA_DATA_PLANE spell them. */
export const DATA_PLANES: readonly DataPlane[] = ['grpc-js', 'http2'];

/** Environment variable of `--data-plane`. */
export const DATA_PLANE_ENV = 'TESSERA_DATA_PLANE';

/**
 * A `tessera ps` or `tessera worker` process's data plane: the flag (undefined when absent) over
 * TESSERA_DATA_PLANE over 'http2' (ADR 0038, amendment 1); a bad value is a CONFIG error naming it.
 */
export function loadDataPlane(env: NodeJS.ProcessEnv, flag: string | undefined): DataPlane {
  const raw = flag ?? env[DATA_PLANE_ENV];
  if (raw === undefined) return 'http2';
  if ((DATA_PLANES as readonly string[]).includes(raw)) return raw as DataPlane;
  throw new TesseraError(ERROR_CODES.CONFIG, `${flag !== undefined ? '--data-plane' : DATA_PLANE_ENV} must be one of ${DATA_PLANES.join(', ')}, got "${raw}"`);
}

/** Default largest data-plane request a PS accepts (bytes). Configurable per PS. */
export const DEFAULT_MAX_REQUEST_BYTES = 64 * 1024 * 1024;

/**
 * The receive limit given to grpc-js itself. It is above the PS's own limit so that an oversized
 * request reaches the PS's check, which answers with a message naming the limit; grpc-js's own
 * check (RESOURCE_EXHAUSTED) still protects memory beyond that.
 */
export function transportReceiveLimit(maxRequestBytes: number): number {
  return Math.min(2 ** 31 - 1, maxRequestBytes * 2 + (1 << 20));
}

/** Options for clients of the PS data plane. */
export function clientChannelOptions(maxMessageBytes: number): ChannelOptions {
  return {
    // A 16 MiB HTTP/2 flow-control window lets a 512 KiB pull response arrive without waiting
    // for WINDOW_UPDATE round trips; measured here it lifts unary throughput from ~70 to ~90 MB/s.
    'grpc-node.flow_control_window': 16 * 1024 * 1024,
    'grpc.max_receive_message_length': maxMessageBytes,
    'grpc.max_send_message_length': maxMessageBytes,
    // Pings on an idle connection detect a dead PS in ~20 s instead of waiting for TCP timeouts.
    'grpc.keepalive_time_ms': 10_000,
    'grpc.keepalive_timeout_ms': 10_000,
    'grpc.keepalive_permit_without_calls': 1,
    // Reconnect quickly after a PS restart; the client's own retry loop handles longer outages.
    'grpc.initial_reconnect_backoff_ms': 100,
    'grpc.max_reconnect_backoff_ms': 2_000,
    // Without this, channels to the same address share one subchannel; separate data-plane
    // clients get their own HTTP/2 connections so pulls and pushes do not queue behind each other.
    'grpc.use_local_subchannel_pool': 1,
    // With TLS a server is checked by the SPIFFE identity in its certificate, not by its address
    // (src/wire/tls.ts); a fixed name also keeps an IP address out of SNI, which RFC 6066 forbids.
    // Plaintext channels ignore it.
    'grpc.ssl_target_name_override': 'tessera',
  };
}

/** Options for a PS server. */
export function serverOptions(maxRequestBytes: number): ChannelOptions {
  const limit = transportReceiveLimit(maxRequestBytes);
  return {
    'grpc.max_receive_message_length': limit,
    'grpc.max_send_message_length': limit,
    // Accept client keepalive pings at the rate clients send them (see clientChannelOptions).
    'grpc.keepalive_permit_without_calls': 1,
    'grpc.http2.min_ping_interval_without_data_ms': 5_000,
  };
}

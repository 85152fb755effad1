/**
 * In-process PS servers on port 0 for integration tests, torn down in afterEach.
 */
import { silentLogger } from '../../src/common/logger';
import { startPsServer, PsServer } from '../../src/ps/ps-server';
import { planShardMap, ShardMap } from '../../src/sharding/shard-map';
import { PsClient, PsClientOptions } from '../../src/client/ps-client';

export interface TestCluster {
  servers: PsServer[];
  map: ShardMap;
  client: PsClient;
  tearDown(): Promise<void>;
}

/**
 * Starts `n` PS servers on 127.0.0.1:0 and a client with the shard map installed; the servers
 * serve the data plane on `clientOpts.dataPlane`, as the client uses it (default grpc-js).
 */
export async function createTestCluster(n: number, clientOpts: Partial<PsClientOptions> = {}, maxRequestBytes = 64 << 20): Promise<TestCluster> {
  const servers = await Promise.all(Array.from({ length: n }, () => startPsServer({ port: 0, maxRequestBytes, logger: silentLogger(), dataPlane: clientOpts.dataPlane })));
  const map = planShardMap(servers.map((s, id) => ({ id, addr: s.addr })));
  const client = new PsClient({ shardMap: map, logger: silentLogger(), ...clientOpts });
  await client.admin.installShardMap();
  return {
    servers, map, client,
    tearDown: async () => {
      client.close();
      await Promise.all(servers.map((s) => s.stop()));
    },
  };
}

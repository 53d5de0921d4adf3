// Where the e2e stack listens.
export const IDP_PORT = 9401;
export const BACKENDS = [
  { name: 'sqlite', port: 18081, redisDb: 1 },
  { name: 'postgres', port: 18082, redisDb: 2 },
] as const;

// Direct DynamoDB resolver (APPSYNC_JS): the caller's bookings from the owner index, only the
// fields selected under `items`, paginated with DynamoDB's own token.
import * as ddb from '@aws-appsync/utils/dynamodb';

export function request(ctx) {
  const fields = ctx.info.selectionSetList
    .filter((f) => f.startsWith('items/') && f.split('/').length === 2)
    .map((f) => f.split('/')[1]);
  const limit = Math.min(ctx.args.limit ?? 20, 100);
  return ddb.query({
    index: 'byOwner',
    query: { owner: { eq: ctx.identity.sub } },
    limit,
    nextToken: ctx.args.nextToken,
    scanIndexForward: false,
    projection: fields.length ? fields : ['id'],
  });
}

export function response(ctx) {
  if (ctx.error) {
    util.error(ctx.error.message, ctx.error.type);
  }
  return { items: ctx.result.items, nextToken: ctx.result.nextToken };
}

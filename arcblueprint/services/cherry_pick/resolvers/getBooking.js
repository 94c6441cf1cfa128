// Direct DynamoDB resolver (APPSYNC_JS): reads only the fields the query selected, plus the owner
// needed for the authorization check. Another caller's booking resolves to null.
import * as ddb from '@aws-appsync/utils/dynamodb';

export function request(ctx) {
  const fields = ctx.info.selectionSetList.filter((f) => !f.includes('/'));
  return ddb.get({ key: { id: ctx.args.id }, projection: [...new Set([...fields, 'owner'])] });
}

export function response(ctx) {
  if (ctx.error) {
    util.error(ctx.error.message, ctx.error.type);
  }
  const item = ctx.result;
  if (!item || item.owner !== ctx.identity.sub) {
    return null;
  }
  return item;
}

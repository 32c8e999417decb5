/**
 * The request handler of the external and custom metrics APIs: health, authentication, authorization, discovery,
 * metric reads (ours from the MetricsProvider, others forwarded upstream) and Status errors. The
 * order of the checks is the generic API server's (k8s.io/apiserver pkg/server/config.go
 * `DefaultBuildHandlerChain`): health paths answer without credentials, then authentication (401),
 * then authorization (403), then the handler (400, 404, 500).
 *
 * `/openapi/v2` and `/openapi/v3` answer 404 to every authenticated caller: kube-aggregator's OpenAPI
 * downloaders take a 404 as "this APIService publishes no spec" and skip it
 * (kube-aggregator pkg/controllers/openapi/aggregator/downloader.go `Download`, openapiv3/aggregator
 * downloader.go `OpenAPIV3Root`), while any other answer would have to be a valid document. The
 * external metrics API's types are fixed upstream; kubectl does not need our spec to read them.
 */
import { randomUUID } from 'node:crypto';
import type { TLSSocket } from 'node:tls';

import type {
  Clock,
  CustomMetricInfo,
  CustomMetricValue,
  CustomMetricsProvider,
  ExternalMetricInfo,
  ExternalMetricValue,
  MetricsProvider,
  Readiness,
} from '../domain/ports.js';
import {
  MetricObjectNotFoundError,
  MetricTargetNotFoundError,
  MetricUnavailableError,
  UnknownMetricError,
  UpstreamMetricsError,
} from '../errors.js';
import type { Logger } from '../observability/logger.js';
import type { RequestAuthenticator } from './auth/authenticator.js';
import type { CachingAuthorizer } from './auth/authorizer.js';
import type { AccessAttributes, UserInfo } from '../domain/auth.js';
import type { Requirement } from '../domain/metrics.js';
import {
  GROUP,
  VERSION,
  apiGroupDocument,
  apiGroupList,
  apiResourceList,
  externalMetricValueList,
} from './discovery.js';
import {
  CUSTOM_GROUP,
  CUSTOM_VERSION,
  customApiGroup,
  customApiGroupDocument,
  customApiResourceList,
  customResourceName,
  metricValueList,
} from './custom-discovery.js';
import { LabelSelectorError, formatLabelSelector, parseLabelSelector } from './label-selector.js';
import type { ApiRequest, ApiResponse } from './connection-guard.js';
import type { MetricsApiObserver } from './metrics.js';
import { routeOf } from './paths.js';
import { firstHeaderValue } from './raw-headers.js';
import type { Route } from './paths.js';
import {
  badRequest,
  forbiddenPath,
  forbiddenResource,
  internalError,
  methodNotAllowed,
  notFound,
  pathNotFound,
  serviceUnavailable,
  unauthorized,
} from './status.js';
import type { Status } from './status.js';
import type { UpstreamClient } from './upstream.js';

export interface MetricsApiAppDependencies {
  /** The TLS connection a request came in on, whatever its protocol (ConnectionGuard.tlsSocketOf). */
  readonly tlsSocketOf: (request: ApiRequest) => TLSSocket | undefined;
  readonly provider: MetricsProvider;
  /** Undefined: custom.metrics.k8s.io is not served (its paths are 404s). */
  readonly customProvider: CustomMetricsProvider | undefined;
  /** Undefined when authentication is disabled (local development). */
  readonly authentication:
    { readonly authenticator: RequestAuthenticator; readonly authorizer: CachingAuthorizer } | undefined;
  readonly upstream: UpstreamClient | undefined;
  readonly readiness: () => Readiness;
  readonly observer: MetricsApiObserver;
  readonly clock: Clock;
  readonly logger: Logger;
}

const ANONYMOUS: UserInfo = { name: 'system:anonymous', groups: ['system:unauthenticated'], extra: {} };

interface RequestState {
  readonly requestId: string;
  readonly route: Route;
  readonly startedNs: bigint;
  /** The `metric` label of our request metrics. */
  metricLabel: string;
  user: UserInfo;
}

function sendJson(response: ApiResponse, code: number, body: object | string): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  response.statusCode = code;
  response.setHeader('Content-Type', 'application/json');
  response.setHeader('Cache-Control', 'no-cache, private');
  response.end(text);
}

function sendStatus(response: ApiResponse, status: Status): void {
  response.setHeader('X-Content-Type-Options', 'nosniff');
  sendJson(response, status.code, status);
}

function sendText(response: ApiResponse, code: number, text: string): void {
  response.statusCode = code;
  response.setHeader('Content-Type', 'text/plain; charset=utf-8');
  response.setHeader('Cache-Control', 'no-cache, private');
  response.setHeader('X-Content-Type-Options', 'nosniff');
  response.end(text);
}

/** The first `labelSelector` (or `parameter`) query parameter (Go's `url.Values.Get`), or the empty selector. */
function labelSelectorOf(request: ApiRequest, parameter = 'labelSelector'): string {
  const url = request.url ?? '';
  const query = url.indexOf('?');
  if (query < 0) return '';
  return new URLSearchParams(url.slice(query + 1)).get(parameter) ?? '';
}

/** How many paths' routes are kept: a few per metric and namespace the HPAs read. */
const MAX_KEPT_ROUTES = 1024;

/** `routeOf` once per distinct path (routes are never changed); bounded, forgotten all at once when full. */
function routeCache(): (path: string) => Route {
  const kept = new Map<string, Route>();
  return (path) => {
    let route = kept.get(path);
    if (route === undefined) {
      route = routeOf(path);
      if (kept.size >= MAX_KEPT_ROUTES) kept.clear();
      kept.set(path, route);
    }
    return route;
  };
}

/** A selector as parsed, or why it does not parse. */
type ParsedSelector =
  | { readonly text: string; readonly selector: readonly Requirement[] }
  | { readonly text: string; readonly error: LabelSelectorError };

/** How many query strings' selectors are kept; the aggregator repeats a few per HPA. */
const MAX_KEPT_SELECTORS = 4096;

/**
 * The `labelSelector` of a metric read, parsed once per distinct query string: every HPA sends the
 * same query every sync, so a read costs a lookup instead of a URL decode and a parse. Bounded
 * (forgotten all at once when full), since anyone authenticated chooses the query.
 */
function selectorCache(): (request: ApiRequest) => ParsedSelector {
  const kept = new Map<string, ParsedSelector>();
  return (request) => {
    const url = request.url ?? '';
    const query = url.indexOf('?');
    const key = query < 0 ? '' : url.slice(query + 1);
    let parsed = kept.get(key);
    if (parsed !== undefined) return parsed;
    const text = labelSelectorOf(request);
    try {
      parsed = { text, selector: Object.freeze(parseLabelSelector(text)) };
    } catch (err) {
      if (!(err instanceof LabelSelectorError)) throw err;
      parsed = { text, error: err };
    }
    if (kept.size >= MAX_KEPT_SELECTORS) kept.clear();
    kept.set(key, parsed);
    return parsed;
  };
}

function pathOf(request: ApiRequest): string {
  const url = request.url ?? '/';
  const query = url.indexOf('?');
  return query < 0 ? url : url.slice(0, query);
}

/**
 * The message of a 404 for a known target without a value, with why it is a 404 and not a 500
 * (src/metrics-api/status.ts).
 */
function unavailableMessage(err: MetricUnavailableError): string {
  return `${err.message}; answered NotFound: the target exists but has no current value, which is not a server failure (the HPA treats it like any metric it cannot read and does not scale down on it)`;
}

/**
 * The body of each answer a provider may give again (src/domain/ports.ts `MetricsProvider`): the
 * same frozen list of items is serialized once, however many HPAs read it.
 */
type SerializedBodies = WeakMap<readonly ExternalMetricValue[], string>;

/**
 * One plain node:http handler for every path: the order of the checks is spelled out in `serve`.
 * No web framework: every request is one of a few fixed routes (./paths.ts), and a framework's
 * router and request decoration would cost more than the whole answer from the snapshot.
 */
export function createMetricsApiApp(
  deps: MetricsApiAppDependencies,
): (request: ApiRequest, response: ApiResponse) => void {
  const bodies: SerializedBodies = new WeakMap();
  const selectorOf = selectorCache();
  const routeOfPath = routeCache();
  return (request, response) => {
    const header = firstHeaderValue(request.rawHeaders, 'audit-id');
    const route = routeOfPath(pathOf(request));
    const state: RequestState = {
      requestId: typeof header === 'string' && header !== '' ? header : randomUUID(),
      route,
      startedNs: process.hrtime.bigint(),
      metricLabel: metricLabelOf(route, deps),
      user: ANONYMOUS,
    };
    response.setHeader('Audit-Id', state.requestId);
    response.on('finish', () => {
      const seconds = Number(process.hrtime.bigint() - state.startedNs) / 1e9;
      deps.observer.observeRequest(state.metricLabel, response.statusCode, seconds);
    });
    serve(deps, bodies, selectorOf, request, response, state).catch((err: unknown) => {
      deps.logger.error({ err, requestId: state.requestId }, 'external metrics API request failed');
      // Anything thrown: 500, the details in the log only; after the headers, the connection is cut.
      if (response.headersSent) response.destroy();
      else sendStatus(response, internalError(state.requestId));
    });
  };
}

async function serve(
  deps: MetricsApiAppDependencies,
  bodies: SerializedBodies,
  selectorOf: (request: ApiRequest) => ParsedSelector,
  request: ApiRequest,
  response: ApiResponse,
  state: RequestState,
): Promise<void> {
  const { provider, upstream, observer, logger } = deps;
  const { route } = state;
  const readOnly = request.method === 'GET' || request.method === 'HEAD';

  // Health: no credentials (the generic API server's AlwaysAllowPaths).
  if (route.kind === 'health') {
    if (!readOnly) {
      sendStatus(response, methodNotAllowed());
      return;
    }
    const readiness = route.check === 'readyz' ? readinessOf(deps) : ({ ready: true } as const);
    if (readiness.ready) sendText(response, 200, 'ok');
    else sendText(response, 500, `[-]${readiness.reason}\nreadyz check failed\n`);
    return;
  }

  // Authentication.
  if (deps.authentication !== undefined) {
    const result = await deps.authentication.authenticator.authenticate(request, deps.tlsSocketOf(request));
    if (!result.ok) {
      observer.observeAuthFailure(result.reason);
      logger.debug(
        { requestId: state.requestId, reason: result.reason, detail: result.detail },
        'request not authenticated',
      );
      sendStatus(response, unauthorized());
      return;
    }
    state.user = result.user;
  }

  // Paths we do not serve (including /openapi/*), then methods.
  const custom =
    route.kind === 'customGroup' || route.kind === 'customVersion' || route.kind === 'customMetric';
  if (route.kind === 'unknown' || route.kind === 'openapi' || (custom && deps.customProvider === undefined)) {
    sendStatus(response, pathNotFound());
    return;
  }
  if (!readOnly) {
    sendStatus(response, methodNotAllowed());
    return;
  }

  // Authorization.
  const attributes = attributesOf(route, request);
  const decision =
    deps.authentication === undefined
      ? { allowed: true, reason: '' }
      : await deps.authentication.authorizer.authorize(state.user, attributes);
  if (!decision.allowed) {
    logger.debug({ requestId: state.requestId, user: state.user.name, attributes }, 'request forbidden');
    sendStatus(
      response,
      attributes.kind === 'resource'
        ? forbiddenResource({
            user: state.user.name,
            verb: attributes.verb,
            group: attributes.group,
            resource: attributes.resource,
            namespace: attributes.namespace,
            reason: decision.reason,
            ...(attributes.name === undefined ? {} : { name: attributes.name }),
            ...(attributes.subresource === undefined ? {} : { subresource: attributes.subresource }),
          })
        : forbiddenPath({
            user: state.user.name,
            verb: 'get',
            path: pathOf(request),
            reason: decision.reason,
          }),
    );
    return;
  }

  switch (route.kind) {
    case 'apis':
      sendJson(response, 200, apiGroupList(deps.customProvider === undefined ? [] : [customApiGroup]));
      return;
    case 'group':
      sendJson(response, 200, apiGroupDocument());
      return;
    case 'version': {
      const ours = provider.listMetrics().map((metric) => metric.name);
      const theirs = upstream === undefined ? [] : await upstream.metricNames();
      sendJson(response, 200, apiResourceList([...ours, ...theirs]));
      return;
    }
    case 'metric':
      await readMetric(deps, bodies, selectorOf(request), request, response, state, route);
      return;
    case 'customGroup':
      sendJson(response, 200, customApiGroupDocument());
      return;
    case 'customVersion': {
      const ours = deps.customProvider?.listCustomMetrics().map(customResourceName) ?? [];
      const theirs = upstream === undefined ? [] : await upstream.customResourceNames();
      sendJson(response, 200, customApiResourceList([...ours, ...theirs]));
      return;
    }
    case 'customMetric':
      if (deps.customProvider !== undefined)
        await readCustomMetric(deps, deps.customProvider, request, response, state, route);
      return;
  }
}

/**
 * What a request asks the authorizer, as the generic API server's RequestInfoFactory reads its path
 * (k8s.io/apiserver pkg/endpoints/request/requestinfo.go): an external metric read lists the
 * resource named by the metric; a custom metric read gets the described object, its metric as the
 * subresource (what prometheus-adapter's and custom-metrics-apiserver's RBAC grant); the namespace
 * form gets the resource `metrics` named by the metric; anything else is a non-resource path.
 */
export function accessAttributesOf(route: Route, path: string): AccessAttributes {
  switch (route.kind) {
    case 'metric':
      return {
        kind: 'resource',
        verb: 'list',
        group: GROUP,
        version: VERSION,
        resource: route.metricName,
        namespace: route.namespace,
      };
    case 'customMetric': {
      const common = { kind: 'resource', verb: 'get', group: CUSTOM_GROUP, version: CUSTOM_VERSION } as const;
      return route.scope === 'namespace'
        ? { ...common, resource: 'metrics', namespace: route.namespace, name: route.metricName }
        : {
            ...common,
            resource: route.resource,
            namespace: route.namespace,
            name: route.name,
            subresource: route.metricName,
          };
    }
    case 'apis':
    case 'group':
    case 'version':
    case 'customGroup':
    case 'customVersion':
    case 'health':
    case 'openapi':
    case 'unknown':
      return { kind: 'nonResource', verb: 'get', path };
  }
}

/** The attributes of each route's metric reads (they depend on the route alone), built once and frozen. */
const routeAttributes = new WeakMap<Route, AccessAttributes>();

function attributesOf(route: Route, request: ApiRequest): AccessAttributes {
  if (route.kind !== 'metric' && route.kind !== 'customMetric')
    return accessAttributesOf(route, pathOf(request));
  let attributes = routeAttributes.get(route);
  if (attributes === undefined) {
    attributes = Object.freeze(accessAttributesOf(route, pathOf(request)));
    routeAttributes.set(route, attributes);
  }
  return attributes;
}

function readinessOf(deps: MetricsApiAppDependencies): Readiness {
  if (deps.authentication !== undefined && !deps.authentication.authenticator.hasConfig()) {
    return { ready: false, reason: 'extension-apiserver-authentication not read yet' };
  }
  return deps.readiness();
}

/** The names of each list of metrics a provider gave, as a set (built once per frozen list). */
const metricNameSets = new WeakMap<readonly ExternalMetricInfo[], ReadonlySet<string>>();

function owns(provider: MetricsProvider, metricName: string): boolean {
  const metrics = provider.listMetrics();
  let names = metricNameSets.get(metrics);
  if (names === undefined) {
    names = new Set(metrics.map((metric) => metric.name));
    if (Object.isFrozen(metrics)) metricNameSets.set(metrics, names);
  }
  return names.has(metricName);
}

/** The `<resource>/<metric>` pairs of each list a custom provider gave, as a set (built once per list). */
const customPairSets = new WeakMap<readonly CustomMetricInfo[], ReadonlySet<string>>();

function ownsCustom(
  provider: CustomMetricsProvider | undefined,
  resource: string,
  metricName: string,
): boolean {
  if (provider === undefined) return false;
  const metrics = provider.listCustomMetrics();
  let pairs = customPairSets.get(metrics);
  if (pairs === undefined) {
    pairs = new Set(metrics.map(customResourceName));
    if (Object.isFrozen(metrics)) customPairSets.set(metrics, pairs);
  }
  return pairs.has(`${resource}/${metricName}`);
}

/** A served metric name (`<resource>/<metric>` on the custom API) as itself, anything else as one bucket (bounded labels). */
function metricLabelOf(route: Route, deps: MetricsApiAppDependencies): string {
  const { provider, customProvider, upstream } = deps;
  switch (route.kind) {
    case 'metric':
      if (owns(provider, route.metricName)) return route.metricName;
      return upstream === undefined ? '_unknown' : '_upstream';
    case 'customMetric':
      if (ownsCustom(customProvider, route.resource, route.metricName))
        return `${route.resource}/${route.metricName}`;
      return upstream === undefined ? '_unknown' : '_upstream';
    case 'apis':
    case 'group':
    case 'version':
    case 'customGroup':
    case 'customVersion':
      return '_discovery';
    case 'health':
      return '_health';
    case 'openapi':
    case 'unknown':
      return '_other';
  }
}

async function readMetric(
  deps: MetricsApiAppDependencies,
  bodies: SerializedBodies,
  parsed: ParsedSelector,
  request: ApiRequest,
  response: ApiResponse,
  state: RequestState,
  route: Extract<Route, { kind: 'metric' }>,
): Promise<void> {
  const { provider, upstream, logger } = deps;
  const { namespace, metricName } = route;
  if (!owns(provider, metricName)) {
    if (upstream !== undefined) {
      await forward(deps, request, response, state);
      return;
    }
    sendStatus(response, notFound(new UnknownMetricError(metricName).message, metricName));
    return;
  }
  if ('error' in parsed) {
    sendStatus(
      response,
      badRequest(`unable to parse labelSelector "${parsed.text}": ${parsed.error.message}`),
    );
    return;
  }
  const { selector } = parsed;
  let items: readonly ExternalMetricValue[];
  try {
    items = await provider.getMetric(namespace, metricName, selector);
  } catch (err) {
    if (err instanceof MetricUnavailableError) {
      logger.debug({ requestId: state.requestId, err }, 'metric unavailable');
      sendStatus(response, notFound(unavailableMessage(err), metricName));
      return;
    }
    if (err instanceof MetricTargetNotFoundError || err instanceof UnknownMetricError) {
      sendStatus(response, notFound(err.message, metricName));
      return;
    }
    throw err;
  }
  if (items.length === 0) {
    const empty = new MetricTargetNotFoundError(namespace, metricName, formatLabelSelector(selector));
    sendStatus(response, notFound(empty.message, metricName));
    return;
  }
  let body = bodies.get(items);
  if (body === undefined) {
    body = JSON.stringify(externalMetricValueList(items));
    if (Object.isFrozen(items)) bodies.set(items, body);
  }
  sendJson(response, 200, body);
}

/** Parses one selector query parameter; sends the 400 and returns undefined when it does not parse. */
function selectorParameter(
  request: ApiRequest,
  response: ApiResponse,
  parameter: 'labelSelector' | 'metricLabelSelector',
): readonly Requirement[] | undefined {
  const text = labelSelectorOf(request, parameter);
  try {
    return parseLabelSelector(text);
  } catch (err) {
    if (!(err instanceof LabelSelectorError)) throw err;
    sendStatus(response, badRequest(`unable to parse ${parameter} "${text}": ${err.message}`));
    return undefined;
  }
}

/**
 * A custom metric read: one object by name, or every object a `labelSelector` matches (`*`), the
 * `metricLabelSelector` matched against the metric's labels. A pair we do not serve goes upstream
 * (or is a 404); the namespace and cluster-scoped forms are never ours.
 */
async function readCustomMetric(
  deps: MetricsApiAppDependencies,
  provider: CustomMetricsProvider,
  request: ApiRequest,
  response: ApiResponse,
  state: RequestState,
  route: Extract<Route, { kind: 'customMetric' }>,
): Promise<void> {
  const { namespace, resource, name, metricName } = route;
  if (route.scope !== 'namespaced' || !ownsCustom(provider, resource, metricName)) {
    if (deps.upstream !== undefined) {
      await forward(deps, request, response, state);
      return;
    }
    const what = route.scope === 'namespace' ? 'namespaces' : resource;
    sendStatus(
      response,
      notFound(`the server could not find the metric ${metricName} for ${what}`, metricName, CUSTOM_GROUP),
    );
    return;
  }
  const metricSelector = selectorParameter(request, response, 'metricLabelSelector');
  if (metricSelector === undefined) return;
  let items: readonly CustomMetricValue[];
  try {
    if (name === '*') {
      const selector = selectorParameter(request, response, 'labelSelector');
      if (selector === undefined) return;
      items = await provider.getMetricBySelector(namespace, resource, selector, metricName, metricSelector);
    } else {
      items = [await provider.getMetricByName(namespace, resource, name, metricName, metricSelector)];
    }
  } catch (err) {
    if (err instanceof MetricUnavailableError) {
      deps.logger.debug({ requestId: state.requestId, err }, 'metric unavailable');
      sendStatus(response, notFound(unavailableMessage(err), metricName, CUSTOM_GROUP));
      return;
    }
    if (err instanceof MetricObjectNotFoundError || err instanceof UnknownMetricError) {
      sendStatus(response, notFound(err.message, metricName, CUSTOM_GROUP));
      return;
    }
    throw err;
  }
  sendJson(response, 200, JSON.stringify(metricValueList(items)));
}

async function forward(
  deps: MetricsApiAppDependencies,
  request: ApiRequest,
  response: ApiResponse,
  state: RequestState,
): Promise<void> {
  const upstream = deps.upstream;
  if (upstream === undefined) return;
  try {
    const answer = await upstream.forward(request.url ?? '/', state.requestId);
    deps.observer.observeUpstreamForward(answer.status);
    response.statusCode = answer.status;
    if (answer.contentType !== undefined) response.setHeader('Content-Type', answer.contentType);
    response.end(answer.body);
  } catch (err) {
    if (!(err instanceof UpstreamMetricsError)) throw err;
    deps.observer.observeUpstreamForward('error');
    deps.logger.warn({ err, requestId: state.requestId }, 'upstream external metrics server unavailable');
    sendStatus(
      response,
      serviceUnavailable('the upstream external metrics server is unavailable; see the Slotscaler log'),
    );
  }
}

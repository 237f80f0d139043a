/** Tool orchestration: JSON-Schema tools, tools from OpenAPI documents, MCP client and server, retrievers as tools. */
export { type JsonSchemaToolDefinition, jsonSchemaTool, toolName } from "./json-schema-tool.js";
export { McpClient, type McpServerConfig, McpServerConfigSchema, type McpToolsOptions } from "./mcp-client.js";
export {
  createMcpServer,
  type McpHttpServer,
  type McpServerOptions,
  type ServeMcpOptions,
  serveMcp,
} from "./mcp-server.js";
export { type OpenApiOperation, type OpenApiToolsOptions, openApiTools } from "./openapi.js";
export {
  type RetrievedPassage,
  type RetrieveFn,
  type RetrieverToolOptions,
  ragRetriever,
  retrieverTool,
} from "./retriever.js";
export { type WebFetchToolOptions, webFetchTool } from "./web.js";

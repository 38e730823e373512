"""HTTP: public merchant reads (/api/v1/merchants …)."""

from __future__ import annotations

from litestar import Controller, Router, get, post
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.status_codes import HTTP_200_OK

from chorus.cases import public
from chorus.cases import service as cases
from chorus.merchants.schemas import MerchantList, MerchantRead, ResolveRead, ResolveRequest
from chorus.web.problems import documented


class MerchantController(Controller):
    path = "/api/v1/merchants"
    tags = ["merchants"]

    @post("/resolve", status_code=HTTP_200_OK, operation_id="resolveMerchant")
    async def resolve(self, data: JSONBody[ResolveRequest]) -> ResolveRead:
        """Normalize identifiers and explain which merchants they match; changes nothing."""
        return await public.resolve(name=data.name, identifiers=data.identifiers)

    @get("/", operation_id="searchMerchants")
    async def search(self, q: FromQuery[str] = "") -> MerchantList:
        """Has anyone reported this shop? Search by name or any identifier."""
        return MerchantList(items=await cases.search_merchants(q))

    @get("/{merchant_id:int}", operation_id="getMerchant")
    async def get_merchant(self, merchant_id: FromPath[int]) -> MerchantRead:
        """Names, identifiers (personal ones masked), cases with member counts, the day it was
        last reported and, when it came back after a closed case, the reappearance alert."""
        return await public.merchant_page(merchant_id)


def routers() -> list[Router]:
    return documented([Router(path="/", route_handlers=[MerchantController])])

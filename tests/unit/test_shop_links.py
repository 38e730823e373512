"""Shop links as people paste them (issue 16 item 1): every platform's shapes, tables first.

Each row is a link as it reaches Chorus: copied from a browser, an app's share sheet (with its
tracking parameters and the words around the link), a mobile or international edition of the
shop's page, or an app's own link. The shop is the platform and its shop id; a link shortener's
code is kept as the link; a single listing is refused with words that ask for the shop's page.
"""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chorus.i18n import t
from chorus.merchants.identifiers import (
    MAX_LENGTH,
    REASONS,
    Identifier,
    IdentifierKind,
    InvalidIdentifier,
    normalize,
)
from chorus.merchants.pages import guess_kind
from chorus.merchants.service import match_key


def shop(raw: str) -> str:
    return normalize("shop", raw).value


def refusal(raw: str) -> str:
    with pytest.raises(InvalidIdentifier) as info:
        normalize("shop", raw)
    return info.value.reason


def jd_app(payload: dict[str, object], *, encode: bool = True) -> str:
    text = json.dumps(payload, separators=(",", ":"))
    return "openApp.jdMobile://virtual?params=" + (quote(text, safe="") if encode else text)


SEC_UID = "MS4wLjABAAAAv7iSuuXDJGDvJkmH_vz1qkDZYo1apxgzaxdBSeIuPiM"

SHOPS: dict[str, list[tuple[str, str]]] = {
    "taobao": [
        ("https://shop104857611.taobao.com/", "taobao:104857611"),
        ("https://shop104857611.taobao.com/index.htm?spm=a1z10.1-c-s.0.0.6d2f7e1dQxYz", "taobao:104857611"),
        ("https://shop104857611.taobao.com/search.htm?search=y&orderType=hotsell_desc", "taobao:104857611"),
        ("https://shop104857611.taobao.com/category-1566483721.htm?scm=1007.2", "taobao:104857611"),
        ("http://shop104857611.taobao.com", "taobao:104857611"),
        ("shop104857611.taobao.com", "taobao:104857611"),
        ("https://shop104857611.m.taobao.com/", "taobao:104857611"),
        ("https://shop104857611.m.taobao.com/?shop_navi=allitems&from=h5", "taobao:104857611"),
        ("https://shop104857611.world.taobao.com/", "taobao:104857611"),
        ("https://shop104857611.world.taobao.com/shop/view_shop.htm?spm=a21wu.241046", "taobao:104857611"),
        ("https://shop104857611.world.taobao.com/index.htm?ali_trackid=2:mm_1:x", "taobao:104857611"),
        ("https://shop.m.taobao.com/shop/shop_index.htm?shop_id=104857611&spm=a2141", "taobao:104857611"),
        ("https://shop.m.taobao.com/shop/shop_index.htm?shopId=104857611", "taobao:104857611"),
        ("https://h5.m.taobao.com/shop/index.html?shop_id=104857611&sourceType=shop", "taobao:104857611"),
        ("https://market.m.taobao.com/app/tb-shop/shop-home/index.html?shopId=104857611", "taobao:104857611"),
        ("https://store.taobao.com/shop/view_shop.htm?shop_id=104857611", "taobao:104857611"),
        ("https://world.taobao.com/shop/view_shop.htm?shop_id=104857611&utm_source=x", "taobao:104857611"),
        ("HTTPS://SHOP104857611.TAOBAO.COM/INDEX.HTM", "taobao:104857611"),
        ("ｈｔｔｐｓ：／／ｓｈｏｐ１０４８５７６１１．ｔａｏｂａｏ．ｃｏｍ／", "taobao:104857611"),
        ("shop104857611。taobao。com", "taobao:104857611"),
        ("taobao://shop.m.taobao.com/shop/shop_index.htm?shop_id=104857611", "taobao:104857611"),
        ("taobao://shop104857611.taobao.com/", "taobao:104857611"),
        (
            "tbopen://m.taobao.com/tbopen/index.html?action=ali.open.nav&module=h5&h5Url="
            + quote("https://shop104857611.taobao.com/?spm=a1", safe=""),
            "taobao:104857611",
        ),
        ("【淘宝】https://shop104857611.taobao.com/?spm=a1 「星辰卡盟」点击链接直接打开", "taobao:104857611"),
        ("taobao:104857611", "taobao:104857611"),
    ],
    "tmall": [
        ("https://xingchen.tmall.com/", "tmall:xingchen"),
        ("https://xingchen.tmall.com/shop/view_shop.htm?spm=a220o.1000855.w5001", "tmall:xingchen"),
        ("https://xingchen.tmall.com/search.htm?orderType=newOn_desc&from=.shop", "tmall:xingchen"),
        ("https://xingchen.tmall.com/category-1234.htm?scene=taobao_shop", "tmall:xingchen"),
        ("https://xingchen.tmall.com/p/rd523449.htm", "tmall:xingchen"),
        ("https://XingChen.Tmall.com", "tmall:xingchen"),
        ("https://xingchen.m.tmall.com/", "tmall:xingchen"),
        ("https://xingchen.m.tmall.com/shop/shop_auction_search.htm?sort=default", "tmall:xingchen"),
        ("https://xingchen.world.tmall.com/", "tmall:xingchen"),
        ("https://xing-chen.tmall.com/", "tmall:xing-chen"),
        ("https://shop.m.tmall.com/shop/shop_index.htm?shop_id=104857611", "taobao:104857611"),
        ("https://xingchen.tmall.hk/", "tmallhk:xingchen"),
        ("https://xingchen.tmall.hk/shop/view_shop.htm?spm=a1z10", "tmallhk:xingchen"),
        ("tmall://xingchen.tmall.com/", "tmall:xingchen"),
        ("去天猫看看 https://xingchen.tmall.com/?spm=a1 ", "tmall:xingchen"),
        ("tmall:xingchen", "tmall:xingchen"),
        ("tmallhk:XingChen", "tmallhk:xingchen"),
    ],
    "jd": [
        ("https://mall.jd.com/index-1000001.html", "jd:1000001"),
        ("https://mall.jd.com/index-1000001.html?from=pc", "jd:1000001"),
        ("https://mall.jd.com/index-1000001.htm", "jd:1000001"),
        ("http://mall.jd.com/index-1000001.html?utm_source=kong&utm_medium=jingfen", "jd:1000001"),
        ("https://mall.jd.hk/index-1000001.html", "jd:1000001"),
        ("https://shop.m.jd.com/?shopId=1000001", "jd:1000001"),
        ("https://shop.m.jd.com/shop/home?shopId=1000001&venderId=1001&sceneval=2", "jd:1000001"),
        ("https://shop.m.jd.com/shop/home/?shopId=1000001&source=share", "jd:1000001"),
        ("https://jshop.m.jd.com/shop/home?shopid=1000001", "jd:1000001"),
        ("https://wqs.jd.com/shop/index.shtml?shopId=1000001&ptag=17036.1", "jd:1000001"),
        ("https://shop.jd.com/?shop_id=1000001", "jd:1000001"),
        ("https://pro.m.jd.com/mall/active/3Xyz/index.html?shopId=1000001", "jd:1000001"),
        (jd_app({"category": "jump", "des": "jshopMain", "shopId": "1000001"}), "jd:1000001"),
        (jd_app({"category": "jump", "des": "jshopMain", "shopId": 1000001, "venderId": 1001}), "jd:1000001"),
        (jd_app({"category": "jump", "des": "jshopMain", "shopId": "1000001"}, encode=False), "jd:1000001"),
        (
            "openapp.jdmobile://virtual?params="
            + quote(quote('{"des":"jshopMain","shopId":"1000001"}', safe=""), safe=""),
            "jd:1000001",
        ),
        ("【京东】" + jd_app({"des": "jshopMain", "shopId": "1000001"}) + " 复制打开京东", "jd:1000001"),
        ("jd:1000001", "jd:1000001"),
    ],
    "pdd": [
        ("https://mobile.yangkeduo.com/mall_page.html?mall_id=987654", "pdd:987654"),
        (
            "https://mobile.yangkeduo.com/mall_page.html?mall_id=987654&refer_page_name=goods_detail",
            "pdd:987654",
        ),
        (
            "https://mobile.yangkeduo.com/mall_page.html?refer_page_sn=10014&mall_id=987654&_x_share_id=x",
            "pdd:987654",
        ),
        ("https://mobile.pinduoduo.com/mall_page.html?mall_id=987654", "pdd:987654"),
        ("https://yangkeduo.com/mall_page.html?mall_id=987654", "pdd:987654"),
        ("http://mobile.yangkeduo.com/mall_page.html?mallId=987654", "pdd:987654"),
        ("https://mobile.yangkeduo.com/goods.html?goods_id=1&mall_id=987654", "pdd:987654"),
        ("https://mobile.yangkeduo.com/mall_page.html#/?mall_id=987654", "pdd:987654"),
        ("pinduoduo://com.xunmeng.pinduoduo/mall_page.html?mall_id=987654", "pdd:987654"),
        ("【拼多多】https://mobile.yangkeduo.com/mall_page.html?mall_id=987654 快来看看", "pdd:987654"),
        ("pdd:987654", "pdd:987654"),
    ],
    "douyin": [
        ("https://haohuo.jinritemai.com/views/shop/index?id=GceCTPIk", "douyin:GceCTPIk"),
        (
            "https://haohuo.jinritemai.com/views/shop/index?id=GceCTPIk&origin_type=604&fxg_admin_preview=",
            "douyin:GceCTPIk",
        ),
        ("https://haohuo.jinritemai.com/ecommerce/trade/shop/index.html?shop_id=GceCTPIk", "douyin:GceCTPIk"),
        ("https://haohuo.jinritemai.com/views/shop/index?shopId=GceCTPIk", "douyin:GceCTPIk"),
        ("https://www.douyin.com/user/" + SEC_UID, "douyin.com/user/" + SEC_UID),
        (
            "https://www.douyin.com/user/" + SEC_UID + "?from_tab_name=main&vid=1",
            "douyin.com/user/" + SEC_UID,
        ),
        ("https://m.douyin.com/user/" + SEC_UID + "/", "douyin.com/user/" + SEC_UID),
        (
            "https://www.iesdouyin.com/share/user/93425012876?sec_uid=" + SEC_UID + "&did=1&iid=2",
            "douyin.com/user/" + SEC_UID,
        ),
        (
            "https://www.iesdouyin.com/share/user/93425012876?u_code=abc",
            "iesdouyin.com/share/user/93425012876",
        ),
        ("douyin:GceCTPIk", "douyin:GceCTPIk"),
    ],
    "kuaishou": [
        (
            "https://app.kwaixiaodian.com/page/kwaishop-buyer-shop-page?sellerId=2218012345",
            "kuaishou:2218012345",
        ),
        (
            "https://app.kwaixiaodian.com/page/kwaishop-buyer-shop-page?sellerId=2218012345&cc=share_copylink",
            "kuaishou:2218012345",
        ),
        ("https://www.kwaixiaodian.com/shop?shopId=2218012345", "kuaishou:2218012345"),
        ("https://www.kuaishou.com/profile/3xk2gv9sjqz8abc", "kuaishou.com/profile/3xk2gv9sjqz8abc"),
        (
            "https://live.kuaishou.com/profile/3xk2gv9sjqz8abc?source=share",
            "kuaishou.com/profile/3xk2gv9sjqz8abc",
        ),
        (
            "https://v.m.chenzhongtech.com/fw/user/3xk2gv9sjqz8abc?fid=1&cc=share_copylink",
            "kuaishou.com/profile/3xk2gv9sjqz8abc",
        ),
        ("https://c.kuaishou.com/fw/user/3xk2gv9sjqz8abc", "kuaishou.com/profile/3xk2gv9sjqz8abc"),
        ("kuaishou:2218012345", "kuaishou:2218012345"),
    ],
    "youzan": [
        ("https://shop41234567.youzan.com/v2/showcase/homepage?alias=1b3x7g", "youzan:41234567"),
        ("https://shop41234567.m.youzan.com/wscshop/showcase/homepage?kdt_id=41234567", "youzan:41234567"),
        ("https://h5.youzan.com/v2/showcase/homepage?kdt_id=41234567", "youzan:41234567"),
        ("https://h5.youzan.com/v2/showcase/homepage?kdt_id=41234567&reft=1623&spm=f.12", "youzan:41234567"),
        ("https://h5.youzan.com/wscshop/home?kdtId=41234567", "youzan:41234567"),
        ("https://h5.youzan.com/v2/feature/2fn4x0?kdt_id=41234567&from=wsc", "youzan:41234567"),
        ("https://h5.youzan.com/v2/goods/2fn4x0abc?kdt_id=41234567", "youzan:41234567"),
        ("youzan:41234567", "youzan:41234567"),
    ],
    "weidian": [
        ("https://weidian.com/?userid=1234567890", "weidian:1234567890"),
        ("https://weidian.com/?userid=1234567890&wfr=wx&spider_token=4e1a", "weidian:1234567890"),
        ("https://weidian.com/?userId=1234567890", "weidian:1234567890"),
        ("https://m.weidian.com/?userid=1234567890", "weidian:1234567890"),
        ("https://v.weidian.com/?userid=1234567890&ifr=shopdetail", "weidian:1234567890"),
        ("https://shop1234567890.v.weidian.com/", "weidian:1234567890"),
        ("https://shop1234567890.v.weidian.com/?wfr=c", "weidian:1234567890"),
        ("https://weidian.com/s/1234567890", "weidian:1234567890"),
        ("https://weidian.com/s/1234567890/?wfr=c&ifr=shopdetail", "weidian:1234567890"),
        ("https://weidian.com/item.html?itemID=1&userid=1234567890", "weidian:1234567890"),
        ("weidian:1234567890", "weidian:1234567890"),
    ],
    "xianyu": [
        ("https://www.goofish.com/personal?userId=2200123456", "xianyu:2200123456"),
        (
            "https://www.goofish.com/personal?spm=a21ybx.item.itemHeader.1&userId=2200123456",
            "xianyu:2200123456",
        ),
        ("https://goofish.com/personal?userId=2200123456", "xianyu:2200123456"),
        ("https://m.goofish.com/personal?userId=2200123456", "xianyu:2200123456"),
        (
            "https://h5.m.goofish.com/app/idleFish-F2e/fish-mini-personal/home.html?userId=2200123456",
            "xianyu:2200123456",
        ),
        ("https://h5.m.goofish.com/app/personal?user_id=2200123456", "xianyu:2200123456"),
        (
            "https://market.m.taobao.com/app/idleFish-F2e/widle-taobao-rax/page-personal?userId=2200123456",
            "xianyu:2200123456",
        ),
        ("https://2.taobao.com/?sellerId=2200123456", "xianyu:2200123456"),
        ("fleamarket://personal?userId=2200123456", "xianyu:2200123456"),
        ("【闲鱼】https://www.goofish.com/personal?userId=2200123456 点击链接直接打开", "xianyu:2200123456"),
        ("xianyu:2200123456", "xianyu:2200123456"),
    ],
    "1688": [
        ("https://shop1434c3b44s531.1688.com/", "1688:shop1434c3b44s531"),
        ("https://shop1434c3b44s531.1688.com/page/offerlist.htm?spm=a2615.7691456", "1688:shop1434c3b44s531"),
        ("https://SHOP1434C3B44S531.1688.com/page/creditdetail.htm", "1688:shop1434c3b44s531"),
        ("https://hzxingchen.1688.com/", "1688:hzxingchen"),
        ("https://shop1434c3b44s531.m.1688.com/", "1688:shop1434c3b44s531"),
        ("https://winport.m.1688.com/page/index.html?memberId=b2b-2206123456abcd", "1688:b2b-2206123456abcd"),
        ("https://m.1688.com/winport/b2b-2206123456abcd.html", "1688:b2b-2206123456abcd"),
        ("https://m.1688.com/winport/b2b-2206123456abcd.html?sk=consign", "1688:b2b-2206123456abcd"),
        ("1688:shop1434c3b44s531", "1688:shop1434c3b44s531"),
    ],
}

ITEMS: dict[str, list[str]] = {
    "taobao": [
        "https://item.taobao.com/item.htm?id=600000000000",
        "https://item.taobao.com/item.htm?ft=t&id=600000000000&spm=a21n57",
        "http://item.taobao.com/item.htm?id=600000000000",
        "https://m.intl.taobao.com/detail/detail.html?id=600000000000",
        "https://h5.m.taobao.com/awp/core/detail.htm?id=600000000000",
        "https://main.m.taobao.com/security-h5-detail/home?id=600000000000",
        "https://new.m.taobao.com/detail.htm?id=600000000000",
        "https://world.taobao.com/item/600000000000.htm",
        "https://a.m.taobao.com/i600000000000.htm",
        "https://market.m.taobao.com/app/idleFish-F2e/widle-taobao-rax/page-detail?id=600000000000",
        "【淘宝】https://item.taobao.com/item.htm?id=600000000000 「卡密」点击链接直接打开",
    ],
    "tmall": [
        "https://detail.tmall.com/item.htm?id=600000000000",
        "https://detail.tmall.com/item.htm?id=600000000000&skuId=4&spm=a1z10",
        "https://detail.m.tmall.com/item.htm?id=600000000000",
        "https://chaoshi.detail.tmall.com/item.htm?id=600000000000",
        "https://detail.tmall.hk/hk/item.htm?id=600000000000",
        "https://detail.tmall.hk/item.htm?id=600000000000",
        "https://xingchen.tmall.com/item.htm?id=600000000000",
    ],
    "jd": [
        "https://item.jd.com/100012043978.html",
        "https://item.jd.com/100012043978.html?utm_source=kong&cu=true",
        "https://item.m.jd.com/product/100012043978.html",
        "https://item.m.jd.com/ware/view.action?wareId=100012043978",
        "https://item.jd.hk/100012043978.html",
        "https://npcitem.jd.hk/100012043978.html",
        "https://m.jd.com/product/100012043978.html",
        jd_app({"category": "jump", "des": "productDetail", "skuId": "100012043978"}),
        jd_app({"des": "productDetail", "skuId": 100012043978}, encode=False),
    ],
    "pdd": [
        "https://mobile.yangkeduo.com/goods.html?goods_id=123456789",
        "https://mobile.yangkeduo.com/goods1.html?goods_id=123456789&_oak_share_snapshot_num=1",
        "https://mobile.yangkeduo.com/goods2.html?goods_id=123456789",
        "https://mobile.pinduoduo.com/goods.html?goods_id=123456789",
        "https://yangkeduo.com/goods.html?ps=abc123",
        "pinduoduo://com.xunmeng.pinduoduo/goods.html?goods_id=123456789",
    ],
    "douyin": [
        "https://haohuo.jinritemai.com/views/product/item2?id=3543567890123",
        "https://haohuo.jinritemai.com/views/product/detail?id=3543567890123&origin_type=604",
        "https://haohuo.jinritemai.com/ecommerce/trade/detail/index.html?id=3543567890123",
        "https://www.douyin.com/goods/3543567890123",
    ],
    "kuaishou": [
        "https://app.kwaixiaodian.com/merchant/shop/detail?id=21400123456789",
        "https://app.kwaixiaodian.com/merchant/shop/detail?id=21400123456789&layoutType=4",
        "https://www.kwaixiaodian.com/item?itemId=21400123456789",
    ],
    "youzan": [
        "https://h5.youzan.com/v2/goods/2fn4x0abc",
        "https://h5.youzan.com/wscgoods/detail/2fn4x0abc?alias=2fn4x0abc",
        "https://h5.youzan.com/v2/goods?alias=2fn4x0abc&reft=1",
    ],
    "weidian": [
        "https://weidian.com/item.html?itemID=4512345678",
        "https://weidian.com/item.html?itemID=4512345678&wfr=wx",
        "https://m.weidian.com/item.html?itemID=4512345678",
    ],
    "xianyu": [
        "https://www.goofish.com/item?id=780123456789",
        "https://www.goofish.com/item?spm=a21ybx.home.feeds.1&id=780123456789&categoryId=5",
        "https://h5.m.goofish.com/item?id=780123456789",
        "https://2.taobao.com/item.htm?id=780123456789",
        "fleamarket://item?id=780123456789",
    ],
    "1688": [
        "https://detail.1688.com/offer/623456789012.html",
        "https://detail.1688.com/offer/623456789012.html?spm=a26352.13672862",
        "https://m.1688.com/offer/623456789012.html",
        "https://detail.m.1688.com/page/index.html?offerId=623456789012",
    ],
}

SHORT_LINKS = [
    ("https://m.tb.cn/h.5FqJ0pK", "m.tb.cn/h.5FqJ0pK"),
    ("https://m.tb.cn/h.5FqJ0pK?tk=AbCd3X8yZ", "m.tb.cn/h.5FqJ0pK"),
    (
        "【淘宝】https://m.tb.cn/h.5FqJ0pK?tk=AbCd3X8yZ CZ0001 「星辰卡盟」点击链接直接打开",
        "m.tb.cn/h.5FqJ0pK",
    ),
    ("https://e.tb.cn/h.gXyZ123AbC?tk=x", "e.tb.cn/h.gXyZ123AbC"),
    ("https://tb.cn/x9Yz1", "tb.cn/x9Yz1"),
    ("https://u.jd.com/AbCd9xY", "u.jd.com/AbCd9xY"),
    ("https://3.cn/10-AbCdEfG", "3.cn/10-AbCdEfG"),
    ("https://v.douyin.com/iRNBabc/", "v.douyin.com/iRNBabc"),
    (
        "8.94 复制打开抖音，看看【星辰卡盟的作品】 https://v.douyin.com/iRNBabc/ Mww:/ 09/12",
        "v.douyin.com/iRNBabc",
    ),
    ("https://v.kuaishou.com/Ab12Cd", "v.kuaishou.com/Ab12Cd"),
    ("https://p.pinduoduo.com/Xy7zAbCd", "p.pinduoduo.com/Xy7zAbCd"),
    ("https://j.youzan.com/Ab1cDe", "j.youzan.com/Ab1cDe"),
    ("https://k.youshop10.com/AbC1d2", "k.youshop10.com/AbC1d2"),
    ("https://dwz.cn/AbCd1234", "dwz.cn/AbCd1234"),
    ("http://t.cn/A6xYz12B", "t.cn/A6xYz12B"),
    ("https://url.cn/5AbCdEf", "url.cn/5AbCdEf"),
    ("http://xhslink.com/a/AbC123", "xhslink.com/a/AbC123"),
    ("https://qr.1688.com/s/AbCd1234", "qr.1688.com/s/AbCd1234"),
]

LINKS_KEPT_AS_LINKS = [
    # Another site's shop: the page, with the query that says which shop, tracking dropped.
    (
        "https://www.xingchen-ka.com/shop.php?id=42&utm_source=wechat&spm=x&from=groupmessage",
        "xingchen-ka.com/shop.php?id=42",
    ),
    (
        "https://xingchen-ka.com/shop.php?from=timeline&id=42&isappinstalled=0",
        "xingchen-ka.com/shop.php?id=42",
    ),
    (
        "https://xingchen-ka.com/shop.php?id=42&fbclid=IwAR0&gclid=Cj0&_t=1690000000",
        "xingchen-ka.com/shop.php?id=42",
    ),
    ("https://xingchen-ka.com/store?b=2&a=1", "xingchen-ka.com/store?a=1&b=2"),
    ("https://xingchen-ka.com/store?q=%E5%8D%A1+%E5%AF%86", "xingchen-ka.com/store?q=%E5%8D%A1%20%E5%AF%86"),
    ("https://xingchen-ka.com/?utm_campaign=a&share_from=b", "xingchen-ka.com"),
    ("发卡网 https://xingchen-ka.com/links/Ab3 点击购买", "xingchen-ka.com/links/Ab3"),
]

UNRECOGNIZED = [
    "https://www.taobao.com/",
    "https://s.taobao.com/search?q=%E5%8D%A1%E5%AF%86",
    "https://www.tmall.com/",
    "https://list.tmall.com/search_product.htm?q=%E7%82%B9%E5%8D%A1",
    "https://so.m.jd.com/ware/search.action?keyword=x",
    "https://www.jd.com/?from=pc",
    "https://shop.m.jd.com/?venderId=1001",  # the vendor's number is not the shop's
    "https://mobile.yangkeduo.com/",
    "https://www.goofish.com/",
    "https://weidian.com/",
    "https://h5.youzan.com/",
    "https://www.douyin.com/",
    "https://www.douyin.com/video/7234567890123456789",
    "https://www.kuaishou.com/short-video/3xabc",
    "https://www.1688.com/",
    jd_app({"category": "jump", "des": "HomePage"}),
    "openapp.jdmobile://virtual?params=not-json",
    "openapp.jdmobile://virtual?params=" + "[" * 400,
    "https://m.tb.cn/",
    "https://t.cn",
]


def _rows(table: dict[str, list[tuple[str, str]]]) -> list[tuple[str, str]]:
    return [row for rows in table.values() for row in rows]


@pytest.mark.parametrize(("raw", "expected"), _rows(SHOPS))
def test_shop_links_name_the_shop(raw: str, expected: str) -> None:
    assert shop(raw) == expected
    assert shop(expected) == expected


def test_every_platform_has_dozens_of_shapes() -> None:
    for platform in SHOPS.keys() | ITEMS.keys():
        assert len(SHOPS[platform]) + len(ITEMS[platform]) >= 10, platform
    assert len(_rows(SHOPS)) + sum(map(len, ITEMS.values())) + len(SHORT_LINKS) > 150


@pytest.mark.parametrize("raw", [link for links in ITEMS.values() for link in links])
def test_item_links_are_refused_as_shops(raw: str) -> None:
    assert refusal(raw) == "item_link_not_shop"


def test_the_refusal_asks_for_the_shops_page() -> None:
    assert "店铺" in t("identifier.reason.item_link_not_shop", "zh-CN")
    assert "shop's page" in t("identifier.reason.item_link_not_shop", "en")


@pytest.mark.parametrize(("raw", "expected"), SHORT_LINKS)
def test_short_links_are_kept_as_links_never_guessed(raw: str, expected: str) -> None:
    ident = normalize("shop", raw)
    assert ident == Identifier(IdentifierKind.SHOP, expected)
    assert ":" not in ident.value  # no platform shop is guessed from a short code
    assert normalize("shop", ident.value) == ident


def test_short_link_codes_keep_their_case() -> None:
    assert shop("https://m.tb.cn/h.AbC") != shop("https://m.tb.cn/h.abc")


@pytest.mark.parametrize(("raw", "expected"), LINKS_KEPT_AS_LINKS)
def test_other_sites_keep_their_link_without_tracking(raw: str, expected: str) -> None:
    assert shop(raw) == expected
    assert shop(expected) == expected


@pytest.mark.parametrize("raw", UNRECOGNIZED)
def test_platform_links_naming_no_shop_are_refused(raw: str) -> None:
    assert refusal(raw) == "unrecognized_shop_link"


def test_other_app_schemes_are_refused() -> None:
    assert refusal("weixin://dl/business/?t=abc") == "unsupported_scheme"
    assert refusal("snssdk1128://user/profile/123") == "unsupported_scheme"


def test_other_kinds_see_a_short_link_as_its_domain() -> None:
    # A url/domain identifier is the registrable domain; match_key keeps such shared
    # domains from tying merchants together (chorus.merchants.service.SHARED_HOST_DOMAINS).
    assert normalize("url", "https://m.tb.cn/h.5FqJ0pK").value == "tb.cn"


# ---------------------------------------------------------------------------
# Properties
# ---------------------------------------------------------------------------

TRACKING = [
    "spm=a1z10.1-c.0.0", "scm=1007.12", "from=groupmessage", "utm_source=wechat",
    "utm_medium=share", "utm_campaign=x", "share_token=abc", "_t=1690000000", "tk=AbCd",
    "isappinstalled=0", "ali_trackid=2:mm_1", "refer_page_name=goods_detail",
]  # fmt: skip
ids_ = st.from_regex(r"[1-9][0-9]{0,12}", fullmatch=True)
labels = st.from_regex(r"[a-z][a-z0-9]{0,10}", fullmatch=True)


def _platform_links(i: str, label: str) -> list[tuple[str, str]]:
    return [
        (f"https://shop{i}.taobao.com/", f"taobao:{i}"),
        (f"https://shop{i}.m.taobao.com/", f"taobao:{i}"),
        (f"https://shop{i}.world.taobao.com/", f"taobao:{i}"),
        (f"https://chorus{label}.tmall.com/", f"tmall:chorus{label}"),
        (f"https://mall.jd.com/index-{i}.html", f"jd:{i}"),
        (f"https://shop.m.jd.com/shop/home?shopId={i}", f"jd:{i}"),
        (jd_app({"des": "jshopMain", "shopId": i}), f"jd:{i}"),
        (f"https://mobile.yangkeduo.com/mall_page.html?mall_id={i}", f"pdd:{i}"),
        (f"https://h5.youzan.com/v2/showcase/homepage?kdt_id={i}", f"youzan:{i}"),
        (f"https://weidian.com/?userid={i}", f"weidian:{i}"),
        (f"https://www.goofish.com/personal?userId={i}", f"xianyu:{i}"),
        (f"https://haohuo.jinritemai.com/views/shop/index?id={label}", f"douyin:{label}"),
        (f"https://app.kwaixiaodian.com/page/kwaishop-buyer-shop-page?sellerId={i}", f"kuaishou:{i}"),
        (f"https://shop{label}.1688.com/", f"1688:shop{label}"),
        (f"https://chorus{label}.com/shop?id={i}", f"chorus{label}.com/shop?id={i}"),
    ]


@given(
    i=ids_,
    label=labels,
    which=st.integers(0, 14),
    tracking=st.lists(st.sampled_from(TRACKING), max_size=4),
    share_text=st.sampled_from(["", "【淘宝】{} 「星辰卡盟」点击链接直接打开", "看看 {} 复制打开"]),
)
@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
def test_tracking_and_share_text_do_not_change_the_shop(
    i: str, label: str, which: int, tracking: list[str], share_text: str
) -> None:
    link, expected = _platform_links(i, label)[which]
    if tracking and not link.startswith("openApp"):
        link += ("&" if "?" in link else "?") + "&".join(tracking)
    if share_text:
        link = share_text.format(link)
    ident = normalize("shop", link)
    assert ident.value == expected
    assert normalize("shop", ident.value) == ident  # normalizing twice gives the same result


FRAGMENTS = [
    "https://", "http://", "openApp.jdMobile://virtual?params=", "taobao://", "tmall://",
    "tbopen://", "pinduoduo://", "fleamarket://", "{", "}", '"shopId":', '"skuId":', '"des":',
    "%7B", "%22", "%7D", "1000001", ":", ",", "?", "&", "=", "#", "/", "%", "【淘宝】", "「", "」",
    " ", "点击链接", "shop1.taobao.com", "x.tmall.com", "tmall.hk", "mall.jd.com/index-1.html",
    "m.tb.cn/h.x", "t.cn", "v.douyin.com/", "douyin.com/user/", "iesdouyin.com/share/user/1",
    "jinritemai.com/views/shop/index", "kuaishou.com/profile/", "chenzhongtech.com/fw/user/",
    "kwaixiaodian.com", "youzan.com", "shop1.youzan.com", "1688.com", "winport/b2b-1.html",
    "weidian.com/s/", "goofish.com/personal", "idleFish", "item", "detail", "goods", "offer",
    "id=", "userId=", "kdt_id=", "sec_uid=", "sellerId=", "memberId=", "mall_id=", "h5Url=",
    "spm=", "utm_x=", "_t=", "a=", "+", "\\", "[", "]", "@", ".", "1688:", "douyin:", "x",
]  # fmt: skip
link_text = st.lists(st.sampled_from(FRAGMENTS), max_size=14).map("".join)


@given(text=st.one_of(link_text, st.text(max_size=80)))
@settings(max_examples=2000, suppress_health_check=[HealthCheck.too_slow])
def test_any_text_is_a_shop_or_a_reason_and_normalizing_twice_changes_nothing(text: str) -> None:
    try:
        ident = normalize("shop", text)
    except InvalidIdentifier as exc:
        assert exc.reason in REASONS
        return
    assert 0 < len(ident.value) <= MAX_LENGTH
    assert normalize("shop", ident.value) == ident


@pytest.mark.parametrize(
    "link", ["https://m.tb.cn/h.5FqJ0pK", "https://v.douyin.com/iRNBabc/", "https://u.jd.com/AbCd9xY"]
)
def test_a_short_link_given_as_a_url_ties_no_merchants_together(link: str) -> None:
    # As a url it is the shortener's domain, everyone's: no match key. As a shop it is the link.
    assert match_key(normalize("url", link)) is None
    assert match_key(normalize("shop", link)) == "shop:" + shop(link)


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("【淘宝】https://m.tb.cn/h.5FqJ0pK?tk=AbCd 「星辰卡盟」点击链接直接打开", "shop"),
        ("https://v.douyin.com/iRNBabc/", "shop"),
        ("https://shop104857611.world.taobao.com/", "shop"),
        ("https://xingchen-ka.com/", "url"),  # a shop on its own domain: the domain says it
    ],
)
def test_the_merchant_check_reports_a_short_link_as_a_shop(text: str, kind: str) -> None:
    assert guess_kind(text) == kind
